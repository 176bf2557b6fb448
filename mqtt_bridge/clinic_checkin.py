"""The patient's side of each session in plain words: pain and check-in answers over time,
the stop rules that fired, and the safety events as a clinician would say them.

Pain is the 0-10 numeric rating the station asks before the exercises, between protocols
(kept only when a stop rule fired on it: the event carries it) and at the end.
"""

from __future__ import annotations

from typing import Any

from mqtt_bridge.clinic_sessions import iso, ref

#: Event kind (``station/kinds.py``) -> what happened, in words.
EVENT_WORDS = {
    "stop": "the patient pressed the Stop button",
    "time": "the session reached its time limit",
    "signal": "the station was shut down or restarted during the session",
    "no_response": "the patient stopped answering",
    "fault": "a hardware or software fault ended the session",
    "interrupted": "the session was cut short (power cut or crash) and closed at the next start",
    "maximal_not_allowed": "a maximal test was skipped: the plan does not allow maximal tests yet",
    "paused": "the session was paused",
    "resumed": "the session was resumed",
    "watchdog": "the station stalled; the watchdog turned the motors off",
    "checkin_wound": "wound problem reported at check-in: no exercises today",
    "checkin_pain": "pain at check-in at or above the plan's limit: no exercises today",
    "checkin_numbness": "new numbness or tingling reported at check-in: no vibration today",
    "pain_limit": "pain reached the plan's limit: stop rule",
    "pain_rise": "pain rose by the plan's step since the check-in: stop rule",
    "fatigue": "peak grip force fell by more than 25 %: no more force work today",
    "no_effort": "two squeezes missed in a row: grip set ended",
    "declined": "the patient declined the exercise",
    "no_force_pads": "no force pads fitted: force work skipped",
    "uncalibrated": "a part is not calibrated: the exercise using it was skipped",
    "pad_gaps": "a force pad read no force for part of the time",
    "no_motors": "no vibration motors fitted: vibration work skipped",
    "no_threshold": "no threshold could be measured",
    "paresthesia": "tingling or discomfort after vibration: no more vibration today",
    "vibration_dose": "the daily vibration dose was reached",
    "contact_force": "the fingertip contact force kept leaving its band",
}
#: What a signal's name means for the session.
SIGNAL_WORDS = {
    "SIGTERM": "SIGTERM: the service was stopped",
    "SIGINT": "SIGINT: the program was interrupted",
    "KeyboardInterrupt": "Ctrl-C: the program was interrupted",
    "SystemExit": "the program exited",
}
#: Event kinds that are stop rules on pain.
PAIN_RULES = ("pain_limit", "pain_rise", "checkin_pain")


def _detail_words(kind: str, detail: Any) -> str:
    if not isinstance(detail, dict):
        return str(detail or "")
    parts = []
    reason = detail.get("reason")
    if kind == "signal" and isinstance(reason, str):
        name = reason.split(" ", 1)[0]
        return SIGNAL_WORDS.get(name, reason)
    for key in ("protocol", "hand", "pain"):
        if key in detail:
            parts.append(f"{key} {detail[key]}")
    if isinstance(reason, str) and reason:
        parts.append(reason)
    if "error" in detail:
        parts.append(f"error {detail['error']}")
    return ", ".join(parts)


#: Codes (``station/kinds.py``) whose words say more than their event's kind.
CODE_WORDS = {
    "S-PAIN": "a pain stop rule ended the session",
    "S-CHECKIN": "the check-in answers stopped the session",
    "S-RESTART": "the session was cut short and closed when the station restarted",
}


def event_words(e: dict[str, Any]) -> str:
    """One safety event as a sentence (its code kept in brackets for the technician)."""
    kind = str(e.get("kind") or "?")
    text = EVENT_WORDS.get(kind, kind.replace("_", " "))
    if kind == "stop" and e.get("code") in CODE_WORDS:
        text = CODE_WORDS[str(e["code"])]
    detail = _detail_words(kind, e.get("detail"))
    if detail:
        text += f" ({detail})"
    if e.get("code"):
        text += f" [{e['code']}]"
    return text


def safety_events(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every safety event with its session, its time and its words. A session the station
    reports as stopped without an event gets one line saying why it stopped."""
    out = []
    for s in sessions:
        for e in s["safety_events"]:
            at = e.get("at") if s["time_source"] == "station" and e.get("at") else iso(s["start"])
            out.append(
                {
                    **ref(s),
                    "at": at,
                    "kind": e.get("kind"),
                    "code": e.get("code"),
                    "detail": e.get("detail"),
                    "words": event_words(e),
                }
            )
        if s["state"] == "stopped" and not s["safety_events"]:
            out.append(
                {
                    **ref(s),
                    "kind": "session_stopped",
                    "code": None,
                    "detail": s["ended_reason"],
                    "words": f"the session was stopped: {s['ended_reason'] or 'no reason given'}",
                }
            )
    return out


def _at_rules(s: dict[str, Any]) -> list[int]:
    """Pain answers a stop rule fired on, between protocols or at the end (the station
    keeps a later pain answer only in the event of the rule it fired)."""
    out = []
    for e in s["safety_events"]:
        d = e.get("detail")
        if e.get("kind") in ("pain_limit", "pain_rise") and isinstance(d, dict):
            v = d.get("pain_now")
            if isinstance(v, int) and not isinstance(v, bool):
                out.append(v)
    return out


def timeline(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per session: pain before, when a stop rule fired, and after; new numbness, wound
    problems; the stop rules that fired (from the check-in block and the events)."""
    rows = []
    for s in sessions:
        c = s["checkin"]
        rules = [
            str(e.get("kind"))
            for e in s["safety_events"]
            if str(e.get("kind")) in PAIN_RULES or str(e.get("kind", "")).startswith("checkin_")
        ]
        if c.get("pain_stop_rule") and c["pain_stop_rule"] not in rules:
            rules.append(str(c["pain_stop_rule"]))
        rows.append(
            {
                **ref(s),
                "pain_before": c.get("pain_before"),
                "pain_at_rules": _at_rules(s),
                # every check between protocols (None: a station that does not send them)
                "pain_between": c.get("pain_between"),
                "pain_after": c.get("pain_after"),
                "new_numbness": c.get("new_numbness"),
                "wound_problem": c.get("wound_problem"),
                "stop_rules": rules,
                "stop_rule_words": [EVENT_WORDS.get(r, r) for r in rules],
            }
        )
    return rows


def _yes(v: Any) -> str:
    return "-" if v is None else ("YES" if v else "no")


def format_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The pain and check-in section of the text report."""
    if not rows:
        return []
    lines = ["pain (0-10) and check-in, per session:"]
    for r in rows:

        def pain(v: Any) -> str:
            return "-" if v is None else str(v)

        if r["pain_between"]:
            between = ", between protocols " + ", ".join(map(str, r["pain_between"]))
        elif r["pain_at_rules"] and r["pain_between"] is None:  # an older station
            between = ", " + ", ".join(map(str, r["pain_at_rules"])) + " when a rule fired"
        else:
            between = ""
        line = (
            f"  #{r['session']} {r['at'][:10]}: pain before {pain(r['pain_before'])}{between}, "
            f"after {pain(r['pain_after'])}; new numbness {_yes(r['new_numbness'])}, "
            f"wound problem {_yes(r['wound_problem'])}"
        )
        if r["stop_rule_words"]:
            line += "; STOP RULE: " + "; ".join(r["stop_rule_words"])
        lines.append(line)
    return lines


__all__ = ["EVENT_WORDS", "event_words", "format_lines", "safety_events", "timeline"]
