"""Settings from the environment and `.env` (DESIGN §6). Secrets are SecretStr: never printed."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///ambassador.db"


class Settings(BaseSettings):
    # Empty values (as .env.example leaves them) mean "not set", not "the empty path".
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      env_ignore_empty=True)

    database_url: str = DEFAULT_DATABASE_URL
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    # The bot's @username, for `python -m bot invite` where Telegram can't be asked (no token
    # here); the running bot and the command line with a token ask Telegram (getMe).
    telegram_bot_username: str | None = None
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_base_url: str = "https://slack.com/api/"
    scheme_file: Path | None = None
    tz_name: str | None = Field(None, description="Overrides the scheme file's time zone")
    media_dir: Path = Path("media")
    http_host: str = "0.0.0.0"
    http_port: int = 8000
    log_level: str = "INFO"
    log_format: str = "console"
    # How long a dispatcher's claim on an outbox row lasts: after a crash mid-send the row is
    # tried again (flagged as perhaps delivered) once this has passed.
    outbox_lease_seconds: float = Field(120.0, gt=0)
    # E-mail (optional): the digest and reports to the scheme's `email:` addresses, over SMTP
    # with STARTTLS. SMTP_CA_FILE trusts a private CA (or a test server's own certificate).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_starttls: bool = True
    smtp_ca_file: Path | None = None
    smtp_timeout_seconds: float = Field(30.0, gt=0)

    def missing_for_run(self) -> list[str]:
        """Which settings `python -m bot run` needs that are not set, named as in .env."""
        missing = []
        if not self.telegram_bot_token:
            missing.append("TELEGRAM_BOT_TOKEN")
        if not self.slack_bot_token:
            missing.append("SLACK_BOT_TOKEN")
        if not (self.slack_app_token or self.slack_signing_secret):
            missing.append("SLACK_APP_TOKEN or SLACK_SIGNING_SECRET")
        return missing
