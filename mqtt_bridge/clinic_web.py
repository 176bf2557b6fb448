"""``rehab-station clinic serve``: a small read-only web dashboard over the clinic database.

Server-rendered HTML (Flask, the ``clinic`` extra; no JavaScript). Nothing is served without
a sign-in: every page but the sign-in page redirects there, and the plots answer only a
signed-in clinician. Users and their password hashes are in the clinic database
(:mod:`mqtt_bridge.clinic_users`). The session is Flask's signed cookie (HttpOnly,
SameSite=Strict, Secure unless told otherwise) with a key made at each start, so a restart
signs everyone out. Every POST (sign-in, sign-out) carries a per-session CSRF token that is
compared in constant time. The database is opened per request, read only.

It binds to 127.0.0.1 by default: put it behind a TLS reverse proxy to serve a network.
"""

from __future__ import annotations

import hmac
import io
import logging
import secrets
from pathlib import Path
from typing import Any

from mqtt_bridge import clinic_plots, clinic_report, clinic_text, clinic_users
from mqtt_bridge.clinic_db import ClinicDB
from mqtt_bridge.clinic_schema import is_postgres
from mqtt_bridge.clinic_web_pages import TEMPLATES

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
SESSION_MINUTES = 60


def create_app(db_path: str | Path) -> Any:
    """The Flask app over the clinic database at ``db_path`` (which must exist). The
    session cookie is always Secure: browsers keep it over https, and over plain http only
    for localhost, the one place this serves without TLS."""
    import datetime as dt

    from flask import Flask, Response, abort, redirect, render_template, request, session, url_for
    from jinja2 import DictLoader

    # A PostgreSQL URL stays text: Path() would fold its "//".
    db_file: str | Path = db_path if is_postgres(str(db_path)) else Path(db_path)
    app = Flask(__name__)
    app.jinja_loader = DictLoader(TEMPLATES)
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_NAME="rehab_clinic",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=SESSION_MINUTES),
    )

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return str(session["csrf"])

    def page(name: str, **ctx: Any) -> str:
        return render_template(name, user=session.get("user"), csrf_token=csrf_token(), **ctx)

    @app.before_request
    def guard() -> Any:
        if request.method == "POST":
            sent = request.form.get("csrf_token", "")
            if not hmac.compare_digest(sent, str(session.get("csrf", ""))) or not sent:
                abort(400, "missing or wrong CSRF token: reload the page")
        if request.endpoint not in ("login", "static") and "user" not in session:
            return redirect(url_for("login"))
        return None

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'unsafe-inline'"
        return resp

    def report(station_id: str | None = None) -> dict[str, Any]:
        with ClinicDB(db_file) as db:
            return clinic_report.build_report(db, station_id)

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        error = None
        if request.method == "POST":
            name = request.form.get("username", "")
            with ClinicDB(db_file) as db:
                ok = clinic_users.check(db, name, request.form.get("password", ""))
            if ok:
                session.clear()  # a new session on sign-in: no fixation
                session.permanent = True
                session["user"] = name
                log.info("clinician %s signed in", name)
                return redirect(url_for("stations"))
            log.warning("failed sign-in for %r from %s", name, request.remote_addr)
            error = "Wrong username or password."
        return page("login", title="sign in", error=error)

    @app.post("/logout")
    def logout() -> Any:
        session.clear()
        return redirect(url_for("login"))

    @app.get("/")
    def stations() -> Any:
        return page("stations", title="stations", stations=report()["stations"])

    def one(station_id: str) -> dict[str, Any]:
        rep = report(station_id)
        if not rep["stations"]:
            abort(404)
        st: dict[str, Any] = rep["stations"][0]
        return st

    @app.get("/station/<station_id>")
    def station(station_id: str) -> Any:
        st = one(station_id)
        text = clinic_text.format_text({"generated_at": "", "stations": [st]})
        return page("station", title=station_id, st=st, text=text.split("\n", 2)[-1])

    def drawn(station_id: str, fmt: str, mimetype: str) -> Any:
        fig = clinic_plots.draw(one(station_id))
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt)
        return Response(buf.getvalue(), mimetype=mimetype)

    @app.get("/station/<station_id>/page.png")
    def page_png(station_id: str) -> Any:
        return drawn(station_id, "png", "image/png")

    @app.get("/station/<station_id>/page.pdf")
    def page_pdf(station_id: str) -> Any:
        return drawn(station_id, "pdf", "application/pdf")

    return app


def make_server(app: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> Any:
    """A threaded WSGI server for ``app`` (werkzeug's); ``port`` 0 picks a free one
    (``server.server_port``). ``serve_forever()`` runs it, ``shutdown()`` stops it."""
    from werkzeug.serving import make_server as werkzeug_server

    return werkzeug_server(host, port, app, threaded=True)


def serve(
    db_path: str | Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    cert: str | None = None,
    key: str | None = None,
) -> int:
    """Serve the dashboard until SIGTERM or SIGINT; https with ``cert`` and ``key``. Raises
    ``ValueError`` for an address off this machine without TLS (passwords in clear)."""
    import ipaddress
    import signal
    import ssl
    import threading

    tls = bool(cert and key)
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not tls and not loopback:
        raise ValueError(
            f"--host {host} without --cert/--key would send passwords in clear: serve on "
            "127.0.0.1 behind a TLS proxy, or give --cert and --key"
        )
    server = make_server(create_app(db_path), host, port)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"serving on {'https' if tls else 'http'}://{host}:{server.server_port}/", flush=True)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.serve_forever()
    finally:
        server.server_close()
        for s, h in old.items():
            signal.signal(s, h)
    return 0


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "create_app", "make_server", "serve"]
