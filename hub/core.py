"""The ``Hub`` object: what integrations receive, and the start/stop sequence.

Start: read and check the YAML → load the declared integrations → order them by their
dependencies → validate each one's config → upgrade the schema → load devices → let each
integration register → serve HTTP → set each one up. A step that fails for one
integration marks it (and whatever depends on it) failed; the rest carry on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import ModuleType
from typing import Any

from hub import events, integrations
from hub.config import (
    CORE_KEY,
    check_top_level_keys,
    read_config_file,
    validate_core,
    validate_section,
)
from hub.console import apply_log_level, listen_error
from hub.db.batch_writer import BatchWriter
from hub.db.database import CORE_MIGRATIONS, Database, database_url
from hub.devices.registry import DeviceRegistry
from hub.event_bus import EventBus
from hub.http import core_routes, device_routes, websocket_api
from hub.http.server import HttpServer, build_app
from hub.integrations import Integration, dependency_order, fail_dependents
from hub.plugins import (
    available_integrations,
    call_for,
    create_plugin_manager,
    load_integration,
    resolve,
)
from hub.registrar import Registrar, Registrations
from hub.runtime_data import RuntimeData
from hub.settings import HubSettings, load_settings
from hub.yaml_loader import ConfigError

_LOGGER = logging.getLogger(__name__)

CORE_NAME = "hub"
SHUTDOWN_TIMEOUT = 10.0


class Hub:
    def __init__(
        self,
        config_dir: str | Path,
        *,
        settings: HubSettings | None = None,
        extra_integrations: dict[str, ModuleType] | None = None,
        strict: bool = False,
        log_level: str | None = None,
        http_port: int | None = None,
    ) -> None:
        """``extra_integrations`` adds modules as if installed (tests use it).

        ``strict`` refuses to start when an integration's configuration is invalid
        (``hub: strict: true`` does too); otherwise the rest start and health says
        degraded. ``log_level`` and ``http_port`` come from the command line and win over
        the YAML, which wins over the environment.
        """
        self._strict = strict
        self._log_level_override = log_level
        self._http_port_override = http_port
        self._extra_integrations = dict(extra_integrations or {})
        self.config_dir = Path(config_dir).resolve()
        self.settings = settings or load_settings(self.config_dir)
        self.bus = EventBus()
        self.registrations = Registrations()
        self.manager = create_plugin_manager()
        self.integrations: dict[str, Integration] = {}
        self.config: dict[str, Any] = {}
        #: Each integration's working state on this hub, by typed key (hub/runtime_data.py).
        #: One imported module serves every hub in the process (tests run several), so an
        #: integration keeps nothing in module globals; the core forgets an integration's
        #: values when it stops or fails.
        self.runtime_data = RuntimeData()
        self.station_id = "station"
        self.name = "Station"
        self.exit_code = 0
        self.started_at: float | None = None
        self.db: Database = Database("")
        self.devices: DeviceRegistry = None  # type: ignore[assignment]  # set in start()
        self.http: HttpServer | None = None
        self._writer: BatchWriter | None = None
        self._order: list[Integration] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._health_providers: dict[str, Callable[[], dict[str, Any]]] = {}
        self._exit_requested = asyncio.Event()
        self._stopping = False
        #: Lines integrations add to the start-up summary (``add_startup_note``).
        self.startup_notes: list[str] = []

    # ---- what integrations use ---------------------------------------------------------

    @property
    def http_url(self) -> str:
        if self.http is None:
            raise RuntimeError("the HTTP server is not running")
        return self.http.url

    def create_task(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """A background task the hub cancels on stop; its crash is logged, never silent."""
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def request_exit(self, code: int = 0) -> None:
        """Ask the running process to stop cleanly and exit with ``code``."""
        self.exit_code = code
        self._exit_requested.set()

    async def wait_for_exit_request(self) -> None:
        await self._exit_requested.wait()

    def integration_state(self, name: str) -> str | None:
        integration = self.integrations.get(name)
        return integration.state if integration else None

    def set_integration_state(self, name: str, state: str, reason: str | None = None) -> None:
        """Let an integration report itself ``unavailable`` (with why) or running again."""
        integration = self.integrations[name]
        integration.state = state
        integration.error = reason

    def integration_failure(self, name: str) -> str | None:
        integration = self.integrations.get(name)
        if integration is None or integration.state != integrations.FAILED:
            return None
        return integration.error or "failed"

    def add_startup_note(self, note: str) -> None:
        """A line for the console's start-up summary: what the operator should know or do
        next (the broker chosen and why, how to create the first user)."""
        self.startup_notes.append(note)

    def add_health_info(self, name: str, provider: Callable[[], dict[str, Any]]) -> None:
        """Counters or status an integration wants shown at GET /api/health."""
        self._health_providers[name] = provider

    def status(self) -> str:
        """``starting`` until every integration has been set up, then ``ok`` when each one
        runs, else ``degraded`` (one failed, or reports itself unavailable)."""
        states = [item.state for item in self.integrations.values()]
        if self.started_at is None or any(
            state in (integrations.LOADED, integrations.SETTING_UP) for state in states
        ):
            return "starting"
        if any(state != integrations.RUNNING for state in states):
            return "degraded"
        return "ok"

    @property
    def ready(self) -> bool:
        """Every configured integration runs: what a readiness probe asks."""
        return self.status() == "ok"

    def health(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        for name, integration in self.integrations.items():
            entry: dict[str, Any] = {"state": integration.state}
            if integration.error:
                entry["error"] = integration.error
            provider = self._health_providers.get(name)
            if provider is not None:
                try:
                    entry["info"] = provider()
                except Exception as error:
                    entry["info"] = {"error": f"health provider failed: {error}"}
            details[name] = entry
        return {
            "status": self.status(),
            "integrations": {name: item.state for name, item in self.integrations.items()},
            "details": details,
            "stationId": self.station_id,
            "uptime": round(time.time() - self.started_at, 3) if self.started_at else 0,
            "history": self._writer_stats(),
        }

    # ---- start -----------------------------------------------------------------------

    async def start(self) -> None:
        raw = read_config_file(self.config_dir)
        available: dict[str, Any] = {**available_integrations(), **self._extra_integrations}
        check_top_level_keys(raw, available)
        core = validate_core(raw)
        self.config = {CORE_KEY: core}
        self.station_id = core["station_id"]
        self.name = core["name"]
        self._apply_overrides(core, raw.get(CORE_KEY) or {})
        apply_log_level(core["log_level"])

        for name in (key for key in raw if key != CORE_KEY):
            integration = Integration(name)
            self.integrations[name] = integration
            try:
                integration.module = load_integration(self.manager, name, available[name])
                integration.dependencies = tuple(
                    call_for(self.manager, name, "hub_dependencies") or ()
                )
                integration.after = tuple(
                    call_for(self.manager, name, "hub_after_dependencies") or ()
                )
            except Exception as error:
                _LOGGER.exception("Integration %s could not be loaded", name)
                integration.fail(f"could not be loaded: {error}")
        self._order = dependency_order(self.integrations)
        for integration in self._usable():
            try:
                schema = call_for(self.manager, integration.name, "hub_config_schema")
                integration.config = validate_section(
                    raw, integration.name, schema, integration=integration.name
                )
                self.config[integration.name] = integration.config
            except ConfigError as error:
                _LOGGER.error("Integration %s is not started: %s", integration.name, error)
                integration.fail(f"invalid configuration: {error}")
                if self._strict or core["strict"]:
                    raise
            except Exception as error:
                integration.fail(f"config schema hook failed: {error}")
        fail_dependents(self._order)

        await self._start_database(core)
        await self._start_devices(core)
        self._register_all()
        self.http = HttpServer(
            build_app(
                self,
                max_body_bytes=core["http"]["max_body_bytes"],
                cors_origins=core["http"]["cors_origins"],
                trusted_proxies=core["http"]["trusted_proxies"],
            ),
            core["http"]["host"],
            core["http"]["port"],
        )
        try:
            await self.http.start()
        except OSError as error:
            raise listen_error(core["http"]["host"], core["http"]["port"], error) from error
        self.started_at = time.time()
        await self._setup_all(core["setup_timeout"])
        for line in self.registrations.unserved():
            # Topics without mqtt_devices, RPC methods without cloud_link: never called.
            _LOGGER.warning("%s", line)
            self.add_startup_note(line)
        started: events.HubStartedData = {"stationId": self.station_id}
        self.bus.fire(events.HUB_STARTED, started)

    def _apply_overrides(self, core: dict[str, Any], written: dict[str, Any]) -> None:
        """Log level and HTTP port: the command line, else what the YAML writes (``written``,
        the raw ``hub:`` key, tells a written value from a schema default), else the
        environment, else the default."""
        yaml_level = core["log_level"] if "log_level" in written else None
        level = self._log_level_override or yaml_level or self.settings.log_level
        core["log_level"] = (level or core["log_level"]).lower()
        yaml_port = (written.get("http") or {}).get("port")
        if self._http_port_override is not None:
            core["http"]["port"] = self._http_port_override
        elif yaml_port is None and self.settings.http_port is not None:
            core["http"]["port"] = self.settings.http_port

    async def _start_database(self, core: dict[str, Any]) -> None:
        self.db = Database(database_url(core, self.settings.database_url, self.config_dir))
        await self.db.start()
        await self.db.upgrade(CORE_MIGRATIONS, CORE_NAME)
        for integration in self._usable():
            try:
                directory = call_for(self.manager, integration.name, "hub_migrations")
                if directory:
                    await self.db.upgrade(directory, integration.name)
            except Exception as error:
                _LOGGER.exception("Schema upgrade of %s failed", integration.name)
                integration.fail(f"schema upgrade failed: {error}")
        fail_dependents(self._order)

    async def _start_devices(self, core: dict[str, Any]) -> None:
        presence = core["presence"]
        self._writer = BatchWriter(
            self.db.require_engine(), interval=core["history"]["flush_interval"]
        )
        self._writer.start()
        self.devices = DeviceRegistry(
            self.bus,
            self.db.require_engine(),
            self.registrations,
            self._writer,
            offline_after=presence["heartbeat_interval"] * presence["missed_heartbeats"],
        )
        await self.devices.load()
        self.devices.start_presence_monitor()

    def _register_all(self) -> None:
        core_registrar = Registrar(self.registrations, CORE_NAME)
        core_routes.register(self, core_registrar)
        device_routes.register(self, core_registrar)
        websocket_api.register(self, core_registrar)
        for integration in self._usable():
            registrar = Registrar(self.registrations, integration.name)
            try:
                call_for(
                    self.manager,
                    integration.name,
                    "hub_register",
                    hub=self,
                    registrar=registrar,
                    config=integration.config,
                )
            except Exception as error:
                _LOGGER.exception("Integration %s failed to register", integration.name)
                integration.fail(f"registration failed: {error}")
                self.registrations.withdraw(integration.name)
        fail_dependents(self._order)
        for integration in self._order:
            if integration.state == integrations.FAILED:
                self.registrations.withdraw(integration.name)
                self.runtime_data.forget(integration.name)

    async def _setup_all(self, setup_timeout: float) -> None:
        for integration in self._order:
            fail_dependents(self._order)
            if integration.state == integrations.FAILED:
                continue
            integration.state = integrations.SETTING_UP
            try:
                await asyncio.wait_for(
                    resolve(
                        call_for(
                            self.manager,
                            integration.name,
                            "hub_setup",
                            hub=self,
                            config=integration.config,
                        )
                    ),
                    setup_timeout,
                )
            except TimeoutError:
                integration.fail(f"setup did not finish within {setup_timeout:g} s")
            except (integrations.SetupError, ConfigError) as error:
                _LOGGER.error("Integration %s did not start: %s", integration.name, error)
                integration.fail(f"setup failed: {error}")
            except Exception as error:
                _LOGGER.exception("Integration %s failed to set up", integration.name)
                integration.fail(f"setup failed: {error}")
            else:
                if integration.state == integrations.SETTING_UP:
                    integration.state = integrations.RUNNING
            if integration.state == integrations.FAILED:
                self.registrations.withdraw(integration.name)
                await self._shutdown_one(integration)

    def _usable(self) -> list[Integration]:
        return [item for item in self._order if item.state != integrations.FAILED]

    # ---- stop ------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop serving, stop integrations in reverse order, then flush every write."""
        if self._stopping:
            return
        self._stopping = True
        stopping: events.HubStoppingData = {}
        self.bus.fire(events.HUB_STOPPING, stopping)
        if self.http is not None:
            await self.http.stop()
        for integration in reversed(self._order):
            if integration.state in (
                integrations.RUNNING,
                integrations.UNAVAILABLE,
                integrations.SETTING_UP,
            ):
                await self._shutdown_one(integration)
                integration.state = integrations.STOPPED
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.devices is not None:
            await self.devices.stop()
        await self.bus.drain()
        if self._writer is not None:
            await self._writer.stop()
        await self.db.stop()

    async def _shutdown_one(self, integration: Integration) -> None:
        try:
            await asyncio.wait_for(
                resolve(call_for(self.manager, integration.name, "hub_shutdown", hub=self)),
                SHUTDOWN_TIMEOUT,
            )
        except Exception:
            _LOGGER.exception("Integration %s failed to shut down cleanly", integration.name)
        finally:
            self.runtime_data.forget(integration.name)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("Task %s crashed", task.get_name(), exc_info=task.exception())

    def _writer_stats(self) -> dict[str, int]:
        if self._writer is None:
            return {}
        return {
            "pending": self._writer.pending,
            "written": self._writer.written,
            "dropped": self._writer.dropped,
            "failures": self._writer.failures,
        }
