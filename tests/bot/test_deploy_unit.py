"""The systemd unit agrees with what the program does: it may take as long to stop as the
runner's own bounded waits, and it may write where the default settings write."""

from __future__ import annotations

import configparser
from pathlib import Path, PurePosixPath

from bot import runner
from bot.settings import DEFAULT_DATABASE_URL, Settings

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "ambassador-bot.service"


def _service() -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read(UNIT, encoding="utf-8")
    return dict(parser["Service"])


def _writable(service: dict[str, str]) -> list[PurePosixPath]:
    paths = [PurePosixPath(p) for p in service.get("ReadWritePaths", "").split()]
    paths += [PurePosixPath("/var/lib") / name
              for name in service.get("StateDirectory", "").split()]
    return paths


def test_systemd_waits_longer_than_a_clean_stop_takes() -> None:
    # _stop waits for the poller, then the webhook intake, then PTB's queue (each up to
    # IN_FLIGHT_SECONDS), then flushes the outbox (OUTBOX_FLUSH_SECONDS).
    worst = 3 * runner.IN_FLIGHT_SECONDS + runner.OUTBOX_FLUSH_SECONDS
    assert float(_service()["TimeoutStopSec"]) > worst


def test_the_default_database_and_media_are_writable_under_protect_system() -> None:
    service = _service()
    assert service["ProtectSystem"] == "strict"
    workdir = PurePosixPath(service["WorkingDirectory"])
    writable = _writable(service)
    sqlite_file = workdir / DEFAULT_DATABASE_URL.split("///", 1)[1]
    media = workdir / Settings.model_fields["media_dir"].default
    for wanted in (sqlite_file.parent, media):
        assert any(wanted == root or root in wanted.parents for root in writable), wanted
