"""The restore drill (docs/restore.md): a primary with WAL archiving and a base backup; ads
through the real pipeline (direct mode, real workers) before and after a named restore point;
the primary lost (stopped, its data folder removed) and restored from the backup and the
archive to that point; then `manage.py reconcile --after-restore` and `manage.py
rebuild_read_model` bring the queues and the read side in line with the restored write side.

Ads before the point end final with a matching read row; after it, an ad is either whole
(its message was still in the broker) or absent everywhere (no write row, no read row, a 404,
not listed): never half there. The audit chain verifies. Run with `-s` to see the drill's
report (docs/restore.md shows one)."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.faults.conftest import (
    ALL_QUEUES,
    PG_BIN,
    RETAILER_NAME,
    TEMPLATE_DB,
    Platform,
    Retailer,
    SparePostgres,
    _as_postgres,
    payloads,
)

pytestmark = [pytest.mark.faults, pytest.mark.restore]

RESTORE_POINT = "before-drill-change"


class ArchivingPostgres(SparePostgres):
    """A private primary that archives every WAL segment to `archive/` (archive_command),
    as production's would to its backup store."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.archive = root / "archive"
        self.backup = root / "base-backup"
        _as_postgres("mkdir", self.archive)  # the server writes there

    def start(self):
        conf = self.data / "postgresql.auto.conf"
        if "archive_command" not in conf.read_text():
            with conf.open("a") as out:
                out.write(f"wal_level = replica\narchive_mode = on\narchive_command = 'cp %p {self.archive}/%f'\n")
        super().start()

    def base_backup(self):
        _as_postgres(
            PG_BIN / "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            self.port,
            "-U",
            "postgres",
            "-D",
            self.backup,
            "-X",
            "stream",
            "--no-sync",
            "--checkpoint=fast",
            stdout=subprocess.DEVNULL,
        )

    def archived_through_now(self) -> str:
        """Close the current WAL segment and wait until the archive has it (the archiver's
        pace: production bounds it with archive_timeout)."""
        with self.connect() as conn:
            segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
        wait_for(lambda: (self.archive / segment).exists(), timeout=60, what=f"WAL segment {segment} archived")
        return segment

    def lose(self):
        """The primary is gone: its server down, its data folder with it."""
        self.stop("immediate")
        shutil.rmtree(self.data)

    def restore(self, *, target_name: str):
        """The operator's steps: the base backup back in place, the archive as restore_command,
        recovery to the named point, then promotion (docs/restore.md)."""
        _as_postgres("cp", "-a", self.backup, self.data)
        with (self.data / "postgresql.auto.conf").open("a") as out:
            out.write(
                f"restore_command = 'cp {self.archive}/%f %p'\n"
                f"recovery_target_name = '{target_name}'\nrecovery_target_action = 'promote'\n"
            )
        _as_postgres("touch", self.data / "recovery.signal")
        self.start()

        def promoted():
            with self.connect() as conn:
                return not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]

        wait_for(promoted, timeout=120, what="recovery to the restore point and promotion")


@pytest.fixture
def drill_world():
    root = Path(tempfile.mkdtemp(prefix="adp-restore-drill-"))
    root.chmod(0o755)  # the server runs as postgres, in a folder of its own below it
    (root / "pg").mkdir()
    (root / "world").mkdir()
    postgres = ArchivingPostgres(root / "pg")
    world = None
    try:
        postgres.start()
        api_key = postgres.platform_database(TEMPLATE_DB, retailer=RETAILER_NAME, data_dir=root / "app")
        world = Platform(postgres=postgres, root=root / "world", name="drill")
        world.api_key = api_key
        yield world
    finally:
        if world is not None:
            world.close()
        try:
            postgres.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(root, ignore_errors=True)


def submit(retailer: Retailer, count: int, *, prefix: str) -> set[str]:
    answers = retailer.submit_all(payloads(count, prefix=prefix), threads=4)
    assert [a.status_code for a in answers] == [202] * count, [a.text for a in answers if a.status_code != 202]
    return {a.json()["id"] for a in answers}


def web(world: Platform, *, mode: str) -> Retailer:
    """The web in `mode` instead of the one running. Ads judged but not projected come from
    cqrs mode: there the intake consumer publishes their projection (on the `projections`
    queue, which an intake-only worker leaves alone); the ads it stores itself (direct mode)
    it projects in the same task."""
    if world.web is not None:
        world.web.kill()
    return Retailer(world.start_web(mode=mode).url, world.api_key)


def rows(world: Platform, table: str, ads: set[str], columns: str = "id") -> dict:
    found = world.query(f"SELECT {columns} FROM {table} WHERE id = ANY(%s::uuid[])", [sorted(ads)])
    return {str(row[0]): row[1:] for row in found}


def judged(world: Platform, ads: set[str]) -> bool:
    return len(rows(world, "ads_write_ad", ads, "id, status")) == len(ads) and all(
        status != "pending" for (status,) in rows(world, "ads_write_ad", ads, "id, status").values()
    )


def final(world: Platform, ads: set[str]) -> bool:
    read = rows(world, "ads_read_adview", ads, "id, status")
    return judged(world, ads) and len(read) == len(ads) and all(status != "pending" for (status,) in read.values())


def by_id(retailer: Retailer, ad_id: str) -> int | str:
    answer = retailer.session.get(f"{retailer.base_url}/api/v1/ads/{ad_id}", timeout=30)
    return answer.json()["status"] if answer.status_code == 200 else answer.status_code


def test_a_primary_restored_to_a_point_in_time_is_brought_in_line(drill_world, capsys):
    world, postgres = drill_world, drill_world.postgres
    log = []
    postgres.base_backup()
    log.append("base backup taken (pg_basebackup -X stream); WAL archived by archive_command")

    retailer = web(world, mode="direct")
    worker = world.start_worker()
    before = submit(retailer, 20, prefix="before")
    wait_for(lambda: final(world, before), timeout=120, what="the ads before the point final", details=world.logs)
    # Judged before the point, projected only after it: the restore takes its read rows away.
    worker.stop()
    worker = world.start_worker(queues="intake")
    unprojected = submit(web(world, mode="cqrs"), 5, prefix="unprojected")
    wait_for(lambda: judged(world, unprojected), timeout=120, what="the unprojected ads judged", details=world.logs)
    worker.stop()
    retailer = web(world, mode="direct")

    with postgres.connect() as conn:
        point = conn.execute("SELECT pg_create_restore_point(%s)", [RESTORE_POINT]).fetchone()[0]
    log.append(f"restore point {RESTORE_POINT!r} at {point}; WAL segment {postgres.archived_through_now()} archived")

    # After the point: ads finished (they will be gone), ads stored whose projection is still
    # queued (gone too, their projection messages left behind), and ads still in the broker.
    worker = world.start_worker()
    wait_for(lambda: final(world, unprojected), timeout=120, what="the unprojected ads projected", details=world.logs)
    finished_after = submit(retailer, 10, prefix="finished-after")
    wait_for(lambda: final(world, finished_after), timeout=120, what="ads after the point final", details=world.logs)
    worker.stop()
    worker = world.start_worker(queues="intake")
    stored_after = submit(web(world, mode="cqrs"), 5, prefix="stored-after")
    wait_for(lambda: judged(world, stored_after), timeout=120, what="ads after the point stored", details=world.logs)
    worker.stop()
    retailer = web(world, mode="direct")
    queued_after = submit(retailer, 10, prefix="queued-after")  # no worker: the broker holds them
    log.append(
        f"accepted: {len(before)} final + {len(unprojected)} judged before the point; after it "
        f"{len(finished_after)} final, {len(stored_after)} stored (projection queued), {len(queued_after)} in the broker"
    )

    world.web.kill()
    postgres.lose()
    log.append("primary lost: server stopped (immediate), data folder removed")
    postgres.restore(target_name=RESTORE_POINT)
    recovered = postgres.query("postgres", "SELECT timeline_id FROM pg_control_checkpoint()")[0][0]
    log.append(f"restored: base backup + archived WAL to {RESTORE_POINT!r}, promoted on timeline {recovered}")
    after_point = finished_after | stored_after | queued_after
    assert rows(world, "ads_write_ad", before | unprojected).keys() == before | unprojected
    assert not rows(world, "ads_write_ad", after_point) and not rows(world, "ads_read_adview", after_point)
    assert not rows(world, "ads_read_adview", unprojected)  # projected after the point

    retailer = Retailer(world.start_web(mode="direct").url, world.api_key)
    # Half there before the repair: the pending markers of ads the restore took away.
    half_there = {ad_id for ad_id in finished_after | stored_after if by_id(retailer, ad_id) == "pending"}
    assert stored_after <= half_there
    log.append(f"before the repair: {len(half_there)} ads gone with the restore still read 'pending' (their markers)")

    world.start_worker(queues=ALL_QUEUES)
    repair = [
        world.manage("reconcile", "--older-than", "0", "--after-restore").stdout.strip(),
        world.manage("rebuild_read_model", "--restart").stdout.strip(),
    ]
    log += [f"manage.py reconcile --older-than 0 --after-restore: {repair[0]}", f"rebuild_read_model: {repair[1]}"]
    wait_for(lambda: final(world, queued_after), timeout=120, what="the broker's ads stored again", details=world.logs)

    # Before the point: final, each read row the write row's state.
    present = before | unprojected | queued_after
    write = rows(world, "ads_write_ad", present, "id, status, version")
    read = rows(world, "ads_read_adview", present, "id, status, version")
    assert write == read and all(status != "pending" for status, _ in write.values())
    # After it: whole (still in the broker) or absent everywhere.
    gone = finished_after | stored_after
    assert not rows(world, "ads_write_ad", gone) and not rows(world, "ads_read_adview", gone)
    assert {by_id(retailer, ad_id) for ad_id in gone} == {404}
    listed = retailer.read_all()
    assert set(listed) == present and all(listed[ad_id] == write[ad_id][0] for ad_id in present)
    # Nothing on the read side without its write row, nothing older than it.
    assert not world.query(
        "SELECT v.id FROM ads_read_adview v LEFT JOIN ads_write_ad a ON a.id = v.id "
        "WHERE a.id IS NULL OR a.version <> v.version OR a.status <> v.status"
    )
    assert not world.query("SELECT ad_id FROM audit_auditentry WHERE ad_id = ANY(%s::uuid[])", [sorted(gone)])
    chain = world.manage("verify_audit_chain").stdout.strip()
    log += [
        f"after: {len(before) + len(unprojected)} ads of before the point final with matching read rows; "
        f"{len(queued_after)} from the broker whole; {len(gone)} gone everywhere (404, not listed, no rows)",
        f"verify_audit_chain: {chain}",
    ]
    with capsys.disabled():
        print("\n--- restore drill ---\n" + "\n".join(log))
