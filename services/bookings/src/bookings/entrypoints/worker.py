"""``python -m bookings.entrypoints.worker``: relay, consumers and timers in one asyncio process."""

import asyncio

from bookings import SERVICE, bootstrap
from bookings.config import settings_from_env
from tripline.logging import configure_logging
from tripline.settings import MessagingSettings
from tripline.worker import run_worker

if __name__ == "__main__":
    configure_logging(SERVICE)
    asyncio.run(run_worker(bootstrap.build_worker(settings_from_env()), MessagingSettings()))
