"""The dashboard's HTML: Jinja2 templates (autoescaped by Flask), no JavaScript."""

from __future__ import annotations

BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} - rehab-station clinic</title>
<style>
body { font-family: sans-serif; margin: 1.5em; max-width: 60em; }
table { border-collapse: collapse; } td, th { border: 1px solid #bbb; padding: .3em .6em; }
.flag { color: #a00; font-weight: bold; } .ok { color: #070; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: 1em; }
header form { display: inline; }
</style></head><body>
{% if user %}<header>Signed in as {{ user }}
<form method="post" action="{{ url_for('logout') }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button type="submit">Sign out</button></form>
| <a href="{{ url_for('stations') }}">All stations</a></header>{% endif %}
<main>{% block main %}{% endblock %}</main></body></html>
"""

LOGIN = """{% extends "base" %}{% block main %}
<h1>Clinic sign-in</h1>
{% if error %}<p class="flag" id="error">{{ error }}</p>{% endif %}
<form method="post" action="{{ url_for('login') }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<p><label>Username <input name="username" id="username" autocomplete="username"></label></p>
<p><label>Password <input name="password" id="password" type="password"
autocomplete="current-password"></label></p>
<p><button type="submit" id="sign-in">Sign in</button></p>
</form>{% endblock %}
"""

STATIONS = """{% extends "base" %}{% block main %}
<h1>Stations</h1>
<table id="stations"><tr><th>station</th><th>last seen</th><th>sessions</th>
<th>needs attention</th></tr>
{% for st in stations %}<tr>
<td><a href="{{ url_for('station', station_id=st.station_id) }}">{{ st.station_id }}</a></td>
<td>{{ st.last_seen or "-" }}</td><td>{{ st.adherence.sessions }}</td>
<td>{% for a in st.attention %}<div class="flag">{{ a }}</div>{% else %}
<span class="ok">nothing</span>{% endfor %}</td>
</tr>{% else %}<tr><td colspan="4">no stations in the database</td></tr>{% endfor %}
</table>{% endblock %}
"""

STATION = """{% extends "base" %}{% block main %}
<h1>Station {{ st.station_id }}</h1>
{% if st.attention %}<ul id="attention">{% for a in st.attention %}
<li class="flag">{{ a }}</li>{% endfor %}</ul>{% endif %}
<p><img id="page" alt="grip, pain, sensory thresholds and adherence of {{ st.station_id }}"
src="{{ url_for('page_png', station_id=st.station_id) }}" width="827"></p>
<p><a href="{{ url_for('page_pdf', station_id=st.station_id) }}">The same page as PDF</a></p>
<pre id="report">{{ text }}</pre>{% endblock %}
"""

TEMPLATES = {"base": BASE, "login": LOGIN, "stations": STATIONS, "station": STATION}

__all__ = ["TEMPLATES"]
