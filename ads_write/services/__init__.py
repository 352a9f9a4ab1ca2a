"""The command side's services, one module per concern (as Zulip's `zerver/actions/`):

- `intake`: accepting ads in the configured intake mode (sync, cqrs, direct);
- `batches`: a batch submission, one result per ad;
- `events`: the ad.submitted event, derived event ids, the task names intake publishes to;
- `submissions`: the intake consumer (store, judge, record);
- `verdicts`: recording the engine's verdicts;
- `decisions`: compliance staff's decisions on held ads;
- `reconciliation`: the sweeps that re-publish what a lost message left behind;
- `outbox`: the transactional outbox and its relay;
- `housekeeping`: the daily purges.

Import from the module that owns a function; this package re-exports nothing.
Publishing to the broker lives with the broker code, in `adplatform.kernel.broker`.
"""
