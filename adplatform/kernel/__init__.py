"""The shared kernel: retailers and their API keys, the event envelope, ids."""
