"""The station application: hardware, journal, outbox, MQTT, safety and the session runner.

:class:`App` is what ``rehab-station run`` and ``rehab-station session`` drive. Opening it

0. checks the station database and the calibration directory (``station.storage``);
1. builds the station (``station.hardware``), real or simulated, and starts acquisition;
2. opens the journal and the outbox in the same SQLite file (``station.db``), so a summary
   and its outbox row commit together;
3. restores today's vibration dose from the journal, so the daily cap holds across
   restarts;
4. wires the Stop button to the safety layer (motors off at once, from the GPIO thread);
5. closes sessions a crash or power cut interrupted and summarises them (``recover``);
6. starts the MQTT client when MQTT is enabled: it sends the outbox and stores plans.

:meth:`App.close` stops everything in reverse order; the motors are off first.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from mqtt_bridge import clocks
from mqtt_bridge import outbox as outbox_mod
from mqtt_bridge import plans as plans_mod
from station import __version__, hardware
from station import plan as plan_mod
from station.catalog import StationAbilities
from station.config import Config, mqtt_password, parse_broker_url, texture_widths_mm
from station.journal import Journal
from station.paths import station_db
from station.runner import Outcome, SessionRunner
from station.safety import SafetyLayer
from station.storage import check_data_dir
from station.ui import SessionUi
from ui_lcd.screens import Screens

log = logging.getLogger(__name__)

SECONDS_PER_8H = 8 * 3600.0


class App:
    def __init__(
        self,
        config: Config,
        data_dir: Path,
        *,
        sim: bool,
        seed: int = 0,
        speed: float | None = None,
        mirrors: Collection[Any] = (),
        clock: Any = None,
        today: Callable[[], dt.date] = dt.date.today,
        calibrate_sim: bool = True,
        wall_clock: clocks.WallClock = clocks.utc_now,
    ) -> None:
        self.config = config
        self.data_dir = Path(data_dir)
        self.sim = sim
        self.seed = seed
        self.speed = speed
        self.mirrors = list(mirrors)
        self._clock = clock
        self.today = today
        self.calibrate_sim = calibrate_sim
        #: Stamps the journal, the outbox rows and the MQTT link (an aware UTC datetime).
        self.wall_clock = wall_clock
        self.station: hardware.Station | None = None
        self.journal: Journal | None = None
        self.client: Any = None
        self.safety: SafetyLayer | None = None
        self.ui: SessionUi | None = None
        self.recovered: list[str] = []
        #: Acquisition counters and sensor faults at the start of the session: the summary
        #: reports what happened during the session, not since the service started.
        self._session_base: tuple[dict[str, int], set[int]] = ({}, set())

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.station is not None

    def open(self) -> App:
        """Build and start everything; a no-op on an open app (one station, one journal,
        one MQTT client per app: a second set would fight the first for the buses, the
        pins and the broker's client id)."""
        if self.is_open:
            return self
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        check_data_dir(self.data_dir)  # before any file is opened for writing
        self.station = st = hardware.build(
            self.config,
            sim=self.sim,
            data_dir=self.data_dir,
            clock=self._clock,
            seed=self.seed,
            speed=self.speed,
            calibrate_sim=self.calibrate_sim,
        )
        self.journal = journal = Journal(station_db(self.data_dir), self.wall_clock)
        with journal.transaction() as conn:
            outbox_mod.ensure_tables(conn)
            plans_mod.ensure_tables(conn)
        self._restore_dose()
        self.safety = safety = SafetyLayer(
            st.motors_off,
            journal.record_event,
            st.clock,
            self.config["safety"]["watchdog_s"],
            st.motors_running,
        )
        assert st.buttons is not None
        st.buttons.on_stop(safety.on_stop_button)
        self.ui = SessionUi(
            Screens(self.config["lcd"]["size"]),
            st.clock,
            st.buttons,
            display=st.display,
            cues=st.cues,
            mirrors=self.mirrors,
            on_stop=safety.stop_seen,
        )
        st.start()
        try:
            self.recovered = self._runner(self.plan()).recover()
        except Exception:  # the link to the clinic must come up whatever the journal holds
            log.exception("recovering interrupted sessions failed")
        if self.config["mqtt"]["enabled"]:
            self.client = self.mqtt_client()
            self.client.start()

    def close(self) -> None:
        """Motors off, then MQTT, the station's parts and the journal; never raises."""
        if self.station is not None:
            try:
                self.station.motors_off()  # every motor is tried; then one fault is raised
            except Exception:
                log.exception("motors off at close failed")
        if self.client is not None:
            try:
                self.client.close()
            except Exception:
                log.exception("closing the MQTT client failed")
            self.client = None
        if self.station is not None:
            self.station.close()
            self.station = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None

    def __enter__(self) -> App:
        return self.open()  # ``with App(...).open() as app`` opens once

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the plan --------------------------------------------------------------------------

    def plan(self) -> plan_mod.Plan | None:
        """The active plan (the newest the clinic sent), the built-in one in ``--sim``
        when the clinic sent none, or None."""
        return self._active_plan()[0]

    def _active_plan(self) -> tuple[plan_mod.Plan | None, str]:
        """The active plan and, when a stored plan cannot be used, why (else "")."""
        assert self.journal is not None
        with self.journal.transaction() as conn:
            stored = plans_mod.active_plan(conn)
        if stored is not None:
            try:
                abilities = StationAbilities.of(self.config)
                return plan_mod.from_dict(stored, self.config.station_id, abilities), ""
            except plan_mod.PlanError as exc:
                log.error("the stored plan is not usable: %s", exc)
                return None, str(exc)
        if self.sim:
            return plan_mod.default_sim_plan(self.config.station_id, self.today()), ""
        return None, ""

    # -- a session -------------------------------------------------------------------------

    def run_session(self, plan: plan_mod.Plan | None = None) -> Outcome | None:
        """Run today's session of ``plan`` (default: the active plan). None: no session (no
        plan, a stored plan this software refuses, or nothing planned today)."""
        assert self.station is not None and self.safety is not None and self.ui is not None
        problem = ""
        if plan is None:
            plan, problem = self._active_plan()
        if plan is None:
            # A refused plan is the clinic's to mend: the status message tells it why.
            self.ui.prompt("session.plan_unusable" if problem else "session.nothing_today")
            return None
        st = self.station
        if st.haptics is not None:
            st.haptics.set_plan_caps(plan.effective_caps(self.config["safety"]))
            st.ledger.begin_session()
        if st.buttons is not None:
            st.buttons.clear_stop()
        self.safety.stop_pressed.clear()
        st.start()  # the acquisition loop runs through every session
        if st.acquisition is not None:
            for fault in st.acquisition.forget_recovered():
                log.info("before this session, since recovered: %s", fault)
            # A fault still active from before the session is the session's too: it is
            # raised at its first check, so the summary must name it.
            pending = {id(f) for f in st.acquisition.pending_faults()}
            earlier = {id(f) for f in st.faults if id(f) not in pending}
            self._session_base = (st.acquisition.counters_snapshot(), earlier)
        runner = self._runner(plan)
        try:
            return runner.run_session(self.today())
        finally:
            self._save_dose()

    def _runner(self, plan: plan_mod.Plan | None) -> SessionRunner:
        assert self.station is not None and self.journal is not None
        assert self.safety is not None and self.ui is not None
        st = self.station
        acq = st.acquisition
        involved = self.config["station"]["involved_hand"]
        other = "left" if involved == "right" else "right"
        return SessionRunner(
            clock=st.clock,
            ui=self.ui,
            forces=acq if st.pads is not None else None,
            journal=self.journal,
            safety=self.safety,
            plan=plan or plan_mod.default_sim_plan(self.config.station_id, self.today()),
            station_safety=self.config["safety"],
            hands={"involved": involved, "uninvolved": other},
            enqueue=self._enqueue,
            data_quality=self.data_quality,
            monitor=acq.check if acq is not None else None,
            after_trial=self._save_dose,
            haptics=st.haptics,
            sensory=self.config["sensory"],
            texture_widths_mm=texture_widths_mm(self.config),
            seed=self.seed if self.sim else None,
            dominant=dominant_hand(self.config["station"]["handedness"]),
            handedness=self.config["station"]["handedness"],
        )

    def _enqueue(self, conn: sqlite3.Connection, schema: str, body: dict[str, Any]) -> str:
        return outbox_mod.enqueue(
            conn,
            schema,
            body,
            max_rows=self.config["mqtt"]["outbox_max_rows"],
            wall_clock=self.wall_clock,
        )

    def data_quality(self) -> dict[str, Any]:
        """What the summary says about the measurement itself."""
        st = self.station
        out: dict[str, Any] = {"simulated": self.sim}
        if st is None:
            return out
        if st.acquisition is not None:
            base, earlier = self._session_base
            now_c = st.acquisition.counters_snapshot()
            c = {k: v - base.get(k, 0) for k, v in now_c.items()}
            out["bus_errors"] = int(sum(v for k, v in c.items() if "error" in k))
            out["overrun_ticks"] = int(c.get("overrun_ticks", 0))
            out["sensor_faults"] = [str(f) for f in st.faults if id(f) not in earlier][-10:]
        if st.pads is not None:
            now = self.wall_clock()
            out["calibration"] = {
                f"pad{p}": {
                    "version": r.version,
                    "date": r.date,
                    "method": r.method,
                    "age_days": _age_days(r.date, now),
                }
                for p, r in sorted(st.pads.records.items())
            }
        return out

    # -- vibration dose across restarts ----------------------------------------------------

    def _restore_dose(self) -> None:
        assert self.station is not None and self.journal is not None
        day = self.today().isoformat()
        seconds, a8_sq = self.journal.dose(day)
        self.station.ledger.restore(
            {"day": day, "vibration_s": seconds, "energy_m2s3": a8_sq * SECONDS_PER_8H}
        )

    def _save_dose(self) -> None:
        """Store the vibration recorded since the last save, per day: after every trial
        and at the session's end, so a power cut loses at most the trial in progress and
        the daily cap still holds after a restart."""
        assert self.station is not None and self.journal is not None
        unsaved: dict = {}
        try:  # from the take on: a signal landing anywhere here puts the dose back
            unsaved = self.station.ledger.take_unsaved()
            rows = [
                (day.isoformat(), t.vibration_s, t.energy_m2s3 / SECONDS_PER_8H)
                for day, t in sorted(unsaved.items())
            ]
            if rows:
                self.journal.add_doses(rows)
        except BaseException:
            self.station.ledger.put_back(unsaved)
            raise

    # -- MQTT ------------------------------------------------------------------------------

    def mqtt_client(self) -> Any:
        """A new, unstarted ``StationClient`` for this station's config and data directory
        (its outbox): the one :meth:`open` starts, or another for a tool that reports
        through the outbox (the self-test). Needs no :meth:`open`."""
        from mqtt_bridge.client import StationClient

        m = self.config["mqtt"]
        url = parse_broker_url(m["broker"], "mqtt.broker")
        password = mqtt_password(self.config)
        station_id = self.config.station_id
        safety = self.config["safety"]
        abilities = StationAbilities.of(self.config)
        return StationClient(
            station_id,
            url.host,
            url.port,
            db_path=station_db(self.data_dir),
            tls=url.tls,
            ca_file=m["ca_file"] or None,
            cert_file=m["cert_file"] or None,
            key_file=m["key_file"] or None,
            username=m["username"] or (station_id if password else None),
            password=password,
            keepalive_s=m["keepalive_s"],
            session_expiry_s=m["session_expiry_s"],
            resend_after_s=m["resend_after_s"],
            max_rows=m["outbox_max_rows"],
            software_version=__version__,
            # The plan/result names the caps the station's [safety] tightens.
            semantic_check=lambda d: plan_mod.semantic_check(d, station_id, safety, abilities),
            wall_clock=self.wall_clock,
        )


def _age_days(date: str, now: dt.datetime) -> float | None:
    try:
        when = dt.datetime.fromisoformat(date.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((now - when).total_seconds() / 86400.0, 1)


def dominant_hand(handedness: str) -> str | None:
    """The dominant hand of config ``station.handedness``; None for ambidextrous."""
    return handedness if handedness in ("left", "right") else None
