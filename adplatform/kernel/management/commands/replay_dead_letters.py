from django.core.management.base import BaseCommand, CommandError

from adplatform.kernel.models import DeadLetter
from adplatform.kernel.services import dead_letter_replay


class Command(BaseCommand):
    help = (
        "Replay dead letters: re-publish each one's task with its original arguments (after fixing "
        "what made it fail). --id replays the given letters, replayed before or not; --task and --all "
        "pick the letters not replayed yet."
    )

    def add_arguments(self, parser):
        parser.add_argument("--id", dest="ids", type=int, nargs="+", action="extend", default=[], metavar="N")
        parser.add_argument("--task", help="Every open dead letter of this task (its full name).")
        parser.add_argument("--all", action="store_true", help="Every open dead letter.")

    def handle(self, *, ids, task, all, **options):
        if not (ids or task or all):
            raise CommandError("Say which dead letters: --id N [N ...], --task NAME or --all.")
        selected = set(ids)
        if task or all:
            open_letters = DeadLetter.objects.filter(replayed_at__isnull=True)
            if task:
                open_letters = open_letters.filter(task_name=task)
            selected |= set(open_letters.values_list("id", flat=True))
        if not selected:
            self.stdout.write("No dead letters to replay.")
            return
        outcome = dead_letter_replay(ids=sorted(selected), actor="system:cli")
        self.stdout.write(
            f"Replayed {len(outcome.replayed)} dead letter(s): {' '.join(map(str, outcome.replayed)) or '-'}"
        )
        for letter_id, reason in sorted(outcome.skipped.items()):
            self.stderr.write(f"Skipped {letter_id}: {reason}")
