"""`python -m bot run` as a real process against the emulator: it answers, serves /healthz
and /metrics, and a SIGTERM stops it cleanly with exit code 0."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.emulators.telegram import TelegramEmulator
from storage import migrate
from tests.handlers.telegram.harness import TOKEN, said

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_run_answers_reports_health_and_stops_on_sigterm(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'run.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    port = free_port()
    async with TelegramEmulator(token=TOKEN) as emu:
        env = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": TOKEN,
               "TELEGRAM_API_BASE_URL": emu.base_url, "SLACK_BOT_TOKEN": "xoxb-test",
               "SLACK_SIGNING_SECRET": "signing-secret", "HTTP_HOST": "127.0.0.1",
               "HTTP_PORT": str(port), "MEDIA_DIR": str(tmp_path / "media"),
               "LOG_LEVEL": "DEBUG", "SCHEME_FILE": ""}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(150):
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.1)
                stranger = emu.user(4242, "Mallory")
                await stranger.send_text("hello")
                await said(stranger, "only for the Community Ambassador scheme", timeout=15)
                async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                    names = {f.name for f in text_string_to_metric_families(
                        await response.text())}
                assert {"ambassador_updates", "ambassador_update_seconds", "ambassador_forms",
                        "ambassador_outbox_pending", "ambassador_outbox_sent",
                        "ambassador_outbox_failed", "ambassador_job_runs",
                        "ambassador_job_misfires", "ambassador_scheduler_leader"} <= names, names
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 20)
            output = (await process.stdout.read()).decode()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert code == 0, output
    assert TOKEN not in output and TOKEN.split(":")[1] not in output
    assert "hello" not in output  # message bodies from the public are never logged
