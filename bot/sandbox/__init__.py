"""The local sandbox (DESIGN §10): emulated Telegram and Slack, the real bot, one web page."""

from bot.sandbox.sandbox import Sandbox, SandboxConfig, run_sandbox

__all__ = ["Sandbox", "SandboxConfig", "run_sandbox"]
