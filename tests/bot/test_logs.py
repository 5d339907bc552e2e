"""Log lines say which request and which person they are about, as ids, in both formats."""

from __future__ import annotations

import io
import json
import logging

from bot.logs import configure_logging
from handlers import log_context


def test_lines_carry_request_and_person_ids_never_content() -> None:
    for style in ("json", "console"):
        configure_logging("INFO", style)
        stream = io.StringIO()
        root = logging.getLogger()
        root.handlers[0].stream = stream
        log = logging.getLogger("handlers.test")
        log.info("outside any request")
        with log_context.handling("tg-101"):
            log_context.about_person(7)
            log.info("form saved")
        lines = stream.getvalue().splitlines()
        if style == "json":
            first, second = (json.loads(line) for line in lines)
            assert "request_id" not in first and "person_id" not in first
            assert (second["event"], second["request_id"], second["person_id"]) == (
                "form saved", "tg-101", 7)
        else:
            assert lines[0].endswith("handlers.test: outside any request")
            assert lines[1].endswith("handlers.test: [request=tg-101 person=7] form saved")
    configure_logging("INFO", "console")
