"""The message catalogue: every text a patient reads, by key, laid out for translation.

Each language is one dict ``key -> Msg``. A :class:`Msg` holds

* ``text``: the general text. ``"\\n"`` starts a new paragraph (the first paragraph is
  usually a short title); the screens word-wrap each paragraph and never cut a word;
* ``layout``: which screen shows it, and so how many rows it may use (see
  :data:`LAYOUTS`); ``tests/test_messages.py`` renders every message on 20x4 and 16x2 in
  its layout and fails if anything would be cut;
* ``variants``: shorter texts for a size, e.g. ``{"16x2": "..."}`` (falls back to ``text``);
* ``longest``: for parametrised messages, the longest plausible value of each parameter,
  used by that test.

A translator copies :data:`EN` to a new dict with the same keys and placeholders and
registers it in :data:`LANGUAGES`; a key missing from a translation falls back to English
so a patient never sees a key name.

Wording rules: short, kind, plain words; say what to do; never diagnose. The virtual
patient (``station/sim/patient.py``) reads these texts, so: only screens that show the
force bar say "squeeze" (and none of them "rest"); "on pad N" asks for a resting fingertip
(a hand on the grip pad is "on grip pad N"); pain questions before the session say
"today", later ones do not; yes/no questions mention what they ask about ("numb",
"wound").
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any, NamedTuple

#: Layout name -> what it is. Rows for text = all rows for "prompt", all but the last row
#: for the screens that keep their last row for a control line.
LAYOUTS = {
    "prompt": "title + wrapped body on every row",
    "countdown": "text, then a row with the seconds left",
    "progress": "text, then a progress bar row",
    "bar": "text, then the force bar row",
    "bars": "text, then two force bar rows (16x2: no text, the variant is empty)",
    "rating": "question, then a '< 3 >  OK' row",
    "yes_no": "question, then a '< No  Yes >' row",
    "choice": "question, then a '< Left  Right >' row",
    "error": "what to do, then a 'Code E-BUS-02' row",
    "menu_title": "first row of the menu",
    "menu_item": "one menu row after a 2-character cursor",
    "choice_label": "one side of a two-choice row",
    "yes_no_label": "one side of a yes/no row",
    "line": "a single row",
}


class Msg(NamedTuple):
    text: str
    layout: str = "prompt"
    variants: Mapping[str, str] = {}
    longest: Mapping[str, Any] = {}


# Parameter values declared once and reused below.
_HAND = {"hand": "right"}  # "right" is longer than "left"
_TRIALS = {"trial": 99, "total": 99}
_CODE = {"code": "E-GLOVE-121"}

EN: dict[str, Msg] = {
    # -- session -------------------------------------------------------------------------
    "session.welcome": Msg(
        "Hello!\nLet's start with three quick questions.",
        variants={"16x2": "Hello!\nThree questions"},
    ),
    "session.nothing_today": Msg(
        "Nothing planned today.\nEnjoy your rest day!",
        variants={"16x2": "No plan today.\nEnjoy your day."},
    ),
    "session.plan_unusable": Msg(
        "Your plan cannot be used here.\nPlease call your clinic.",
        variants={"16x2": "Plan not usable.\nCall your clinic"},
    ),
    "session.nothing_to_run": Msg(
        "Nothing to do today.\nYour plan has no exercise the station can run.",
        variants={"16x2": "Nothing to do\ntoday."},
    ),
    "session.skipped": Msg(
        "One test skipped.\nYour clinic will switch it on when the time is right.",
        variants={"16x2": "One test skipped\nfor now."},
    ),
    "session.protocol_stopped": Msg(
        "That exercise is over for today.\nLet's go on.",
        variants={"16x2": "Exercise over\nfor today."},
    ),
    "session.pain_stop": Msg(
        "Let's stop for today\nRest your hand and tell your clinic.",
        variants={"16x2": "Stop for today.\nRest your hand."},
    ),
    "session.hands_off": Msg(
        "Please take your hands off the pads.",
        variants={"16x2": "Hands off the\npads, please."},
    ),
    "session.paused": Msg(
        "Are you still there?\nPress OK to go on.",
        variants={"16x2": "Still there?\nPress OK."},
    ),
    "session.paused_by_you": Msg(
        "Paused.\nEverything is off. Press OK to go on.",
        variants={"16x2": "Paused.\nOK to go on."},
    ),
    "session.done": Msg(
        "All done for today.\nThank you, well done!",
        variants={"16x2": "All done today.\nThank you!"},
    ),
    "session.done_pain": Msg(
        "All done for today.\nRest your hand, and tell your clinic about the pain.",
        variants={"16x2": "All done today.\nRest your hand."},
    ),
    "session.stopped": Msg(
        "Session stopped.\nEverything is off. Rest your hand.",
        variants={"16x2": "Session stopped\nRest your hand."},
    ),
    "session.incomplete": Msg(
        "Session ended early.\nWhat you did is saved. See you next time!",
        variants={"16x2": "Session ended.\nWork is saved."},
    ),
    # -- check-in and pain checks ----------------------------------------------------------
    "checkin.pain": Msg(
        "Pain in your hand today?\n0 = none, 10 = worst",
        "rating",
        variants={"16x2": "Pain today? 0-10"},
    ),
    "checkin.numbness": Msg(
        "Any new numbness or tingling?",
        "yes_no",
        variants={"16x2": "New numbness?"},
    ),
    "checkin.wound": Msg(
        "Any problem with your wound or scar?",
        "yes_no",
        variants={"16x2": "Wound problem?"},
    ),
    "checkin.not_today": Msg(
        "No exercises today.\nPlease rest, and call your clinic if you are worried.",
        variants={"16x2": "Rest day today.\nNo exercises."},
    ),
    "check.pain_now": Msg(
        "Pain in your hand now?\n0 = none, 10 = worst",
        "rating",
        variants={"16x2": "Pain now? 0-10"},
    ),
    "checkout.pain": Msg(
        "Last one: pain in your hand now?\n0 = none, 10 = worst",
        "rating",
        variants={"16x2": "Pain now? 0-10"},
    ),
    # -- grip ------------------------------------------------------------------------------
    "grip.place": Msg(
        "Put your {hand} hand on the grip pad.\nPress OK when ready, STOP if it hurts.",
        variants={"16x2": "Use {hand} hand.\nReady? Press OK"},
        longest=_HAND,
    ),
    "grip.again": Msg(
        "Let's try again.\nGrip as soon as the screen says so.\nPress OK when ready.",
        variants={"16x2": "Try again?\nPress OK."},
    ),
    "grip.progress": Msg(
        "Try {trial} of {total}\nYour {hand} hand. Get comfortable.",
        variants={"16x2": "Try {trial} of {total}\nHand: {hand}"},
        longest={**_TRIALS, **_HAND},
    ),
    "grip.ready": Msg(
        "Get ready\nRelax your shoulders.",
        "countdown",
        variants={"16x2": "Get ready"},
    ),
    "grip.squeeze": Msg(
        "Squeeze, {hand} hand!\nAs hard as you comfortably can.",
        "bar",
        variants={"16x2": "Squeeze! {hand}"},
        longest=_HAND,
    ),
    "grip.relax": Msg(
        "Relax your hand.\nWell done.",
        variants={"16x2": "Relax your hand.\nWell done."},
    ),
    "grip.rest": Msg(
        "Rest\nLet your hand go loose.",
        "countdown",
        variants={"16x2": "Rest"},
    ),
    "grip.result": Msg(
        "Grip set done.\n{done} of {total} tries. Thank you!",
        variants={"16x2": "Grip set done.\n{done} of {total} tries"},
        longest={"done": 99, "total": 99},
    ),
    # -- sensory ---------------------------------------------------------------------------
    # Pads are numbered 1.. on the LCD (their labels); the virtual patient reads "pad N".
    # "Buzz N of M" is the only screen shown while a stimulus interval plays.
    "sense.intro_vibration": Msg(
        "Buzz test\nOne of two moments has a buzz. Press OK.",
        variants={"16x2": "Buzz test\nPress OK."},
    ),
    "sense.intro_amplitude": Msg(
        "Strength test\nFind the stronger of two buzzes. Press OK.",
        variants={"16x2": "Strength test\nPress OK."},
    ),
    "sense.intro_frequency": Msg(
        "Speed test\nFind the faster of two buzzes. Press OK.",
        variants={"16x2": "Speed test\nPress OK."},
    ),
    "sense.intro_texture": Msg(
        "Texture test\nFeel the pads and compare them. Press OK.",
        variants={"16x2": "Texture test\nPress OK."},
    ),
    "sense.intro_localisation": Msg(
        "Where test\nFind the pad that buzzes. Press OK.",
        variants={"16x2": "Where test\nPress OK."},
    ),
    "sense.place": Msg(
        "Rest a fingertip on pad {pad}.\nPress OK when ready.",
        variants={"16x2": "Finger on pad {pad}\nthen press OK."},
        longest={"pad": 16},
    ),
    "sense.place_many": Msg(
        "Rest your fingertips on pads {first} to {last}.\nPress OK when ready.",
        variants={"16x2": "Pads {first}-{last}\nthen press OK."},
        longest={"first": 16, "last": 16},
    ),
    "sense.interval": Msg(
        "Buzz {n} of {total}\nKeep still and feel.",
        variants={"16x2": "Buzz {n} of {total}\nKeep still."},
        longest={"n": 3, "total": 3},
    ),
    "sense.which_buzz": Msg("Which one buzzed?", "choice", variants={"16x2": "Which buzzed?"}),
    "sense.which_stronger": Msg(
        "Which buzz felt stronger?", "choice", variants={"16x2": "Which stronger?"}
    ),
    "sense.which_faster": Msg(
        "Which buzz felt faster?", "choice", variants={"16x2": "Which faster?"}
    ),
    "sense.feel_where": Msg(
        "Feel\nWhich pad buzzes? Keep still.",
        variants={"16x2": "Feel\nWhich buzzes?"},
    ),
    "sense.press_where": Msg(
        "Press the pad that buzzed.",
        variants={"16x2": "Press the pad\nthat buzzed."},
    ),
    "sense.touch": Msg(
        "Touch pad {pad} lightly.\nFeel its surface.",
        variants={"16x2": "Touch pad {pad}\nlightly."},
        longest={"pad": 16},
    ),
    "sense.which_rougher": Msg(
        "Which pad felt rougher?", "choice", variants={"16x2": "Which rougher?"}
    ),
    "sense.press_odd": Msg(
        "Press the pad that felt different.",
        variants={"16x2": "Press the pad\nthat differs."},
    ),
    "sense.too_light": Msg(
        "A little firmer, please.\nLet's do that one again.",
        variants={"16x2": "A bit firmer.\nOnce more."},
    ),
    "sense.too_hard": Msg(
        "A little lighter, please.\nLet's do that one again.",
        variants={"16x2": "A bit lighter.\nOnce more."},
    ),
    "sense.right": Msg("Right!\nWell done.", variants={"16x2": "Right!"}),
    "sense.wrong": Msg("Not this time.\nKeep going!", variants={"16x2": "Not this time."}),
    "sense.progress": Msg(
        "Trial {done} of {total}",
        "progress",
        longest={"done": 999, "total": 999},
    ),
    "sense.tingling": Msg(
        "After the buzzing: any tingling or discomfort?",
        "yes_no",
        variants={"16x2": "Tingling now?"},
    ),
    "sense.vibration_stopped": Msg(
        "No more buzzing today.\nTell your clinic if the tingling lasts.",
        variants={"16x2": "No more buzzing\ntoday."},
    ),
    "sense.result": Msg(
        "Set done.\n{correct} of {total} correct. Thank you!",
        variants={"16x2": "Set done.\n{correct}/{total} correct"},
        longest={"correct": 999, "total": 999},
    ),
    # -- motor relearning: shared (station/protocols/motor/common.py) ---------------------
    # Only screens that ask for a squeeze say "squeeze" (the virtual patient reads them).
    "motor.place": Msg(
        "Put your {hand} hand on grip pad {pad}.\nPress OK when ready, STOP if it hurts.",
        variants={"16x2": "Use {hand} hand\non grip pad {pad}."},
        longest={**_HAND, "pad": 16},
    ),
    "motor.intro": Msg(
        "Hand exercise\nFor your {hand} hand. OK to start, BACK to skip.",
        variants={"16x2": "Hand exercise\nPress OK."},
        longest=_HAND,
    ),
    "motor.priming_place": Msg(
        "Warm-up: rest your fingertips on pad {pad}.\nPress OK when ready.",
        variants={"16x2": "Warm-up: finger\non pad {pad}. OK?"},
        longest={"pad": 16},
    ),
    "motor.priming": Msg(
        "Warm-up buzz\nKeep your fingers still and feel it.",
        variants={"16x2": "Warm-up buzz\nKeep still."},
    ),
    "motor.ready": Msg(
        "Get ready\nRelax your shoulders.", "countdown", variants={"16x2": "Get ready"}
    ),
    "motor.comfortable": Msg(
        "Squeeze firmly,\n{hand} hand. Not hard.",
        "bar",
        variants={"16x2": "Squeeze firmly"},
        longest=_HAND,
    ),
    # -- motor: steadiness and tracking ----------------------------------------------------
    # The hold and tracking screens are the only ones the virtual patient reads the bar's
    # band on: "keep ... band" (a steady hold) and "follow the band" (a moving target).
    "steady.intro": Msg(
        "Steady hold\nHold the bar inside the band. OK to start.",
        variants={"16x2": "Steady hold\nOK to start."},
    ),
    "steady.hold": Msg(
        "Steady squeeze\nKeep the bar in the band, {hand} hand.",
        "bar",
        variants={"16x2": "Keep in band"},
        longest=_HAND,
    ),
    "steady.result": Msg(
        "Hold done.\nSteady within {wobble} %.",
        variants={"16x2": "Hold done.\nWithin {wobble} %"},
        longest={"wobble": 99.9},
    ),
    "track.intro": Msg(
        "Tracking\nThe band will move: stay with it. OK to start.",
        variants={"16x2": "Tracking\nOK to start."},
    ),
    "track.follow": Msg(
        "Squeeze to follow\nthe band as it moves, {hand} hand.",
        "bar",
        variants={"16x2": "Follow the band"},
        longest=_HAND,
    ),
    "track.result": Msg(
        "Tracking done.\nIn the band {in_band} % of the time.",
        variants={"16x2": "Tracking done.\nIn band {in_band} %"},
        longest={"in_band": 100},
    ),
    "motor.again": Msg(
        "Let's try again.\nPress OK when ready.",
        variants={"16x2": "Try again?\nPress OK."},
    ),
    # -- motor: fast squeezes, grip-release, sustained hold --------------------------------
    # The virtual patient's acts claim the bar screens by their words ("squeeze fast",
    # "squeeze and let go", "squeeze hard"), so no other screen says them.
    "rfd.intro": Msg(
        "Quick grips\nFast, hard grips, {hand} hand, from loose. OK to start.",
        variants={"16x2": "Quick grips\nPress OK."},
        longest=_HAND,
    ),
    "rfd.progress": Msg(
        "Quick grip {trial} of {total}\nYour {hand} hand.",
        variants={"16x2": "Quick grip {trial}/{total}\nHand: {hand}"},
        longest={**_TRIALS, **_HAND},
    ),
    "rfd.ready": Msg(
        "Get ready\nHand loose, then go fast.",
        "countdown",
        variants={"16x2": "Hand loose"},
    ),
    "rfd.go": Msg(
        "Squeeze fast and hard!\n{hand} hand",
        "bar",
        variants={"16x2": "Squeeze fast!"},
        longest=_HAND,
    ),
    "rfd.result": Msg(
        "Quick grips done.\n{done} of {total}. Well done!",
        variants={"16x2": "Quick grips done\n{done} of {total}"},
        longest={"done": 99, "total": 99},
    ),
    "release.intro": Msg(
        "Grip and let go\nOpen and close your {hand} hand fast. OK to start.",
        variants={"16x2": "Grip and let go\nPress OK."},
        longest={**_HAND, "seconds": 15},
    ),
    "release.progress": Msg(
        "Set {trial} of {total}\nYour {hand} hand. Grip and open fully.",
        variants={"16x2": "Set {trial} of {total}\nHand: {hand}"},
        longest={**_TRIALS, **_HAND},
    ),
    "release.go": Msg(
        "Squeeze and let go,\nagain and again!",
        "bar",
        variants={"16x2": "Squeeze, let go!"},
    ),
    "release.result": Msg(
        "{cycles} grips in {seconds} s.\nWell done!",
        variants={"16x2": "{cycles} grips\nin {seconds} s."},
        longest={"cycles": 99, "seconds": 15},
    ),
    "hold.intro": Msg(
        "Strength over time\nHard grips, short rests, {hand} hand.\nPress OK to start.",
        variants={"16x2": "Hard grips\nPress OK."},
        longest=_HAND,
    ),
    "hold.intro_long": Msg(
        "One long grip\nGrip hard and keep it up, {hand} hand.\nPress OK to start.",
        variants={"16x2": "One long grip\nPress OK."},
        longest=_HAND,
    ),
    "hold.rep": Msg(
        "Squeeze hard!\nGrip {rep} of {reps}",
        "bar",
        variants={"16x2": "Squeeze hard!"},
        longest={"rep": 12, "reps": 12},
    ),
    "hold.rest": Msg("Let go\nShort rest.", "countdown", variants={"16x2": "Let go"}),
    "hold.hold": Msg(
        "Squeeze hard and hold!\nKeep it up.",
        "bar",
        variants={"16x2": "Squeeze and hold"},
    ),
    "hold.result": Msg(
        "Set done.\n{done} hard grips. Thank you!",
        variants={"16x2": "Set done.\n{done} hard grips"},
        longest={"done": 12},
    ),
    "hold.result_long": Msg(
        "Done.\nYou held on for {seconds} s. Thank you!",
        variants={"16x2": "Done.\nHeld {seconds} s."},
        longest={"seconds": 60},
    ),
    # -- motor: bilateral --------------------------------------------------------------------
    # Two-bar screens ("bars"): left hand on the top bar, right below, each band between
    # [ and ]; a 16x2 has no row for their text. They never say "squeeze" (a "bar" word).
    "bilateral.intro": Msg(
        "Both hands together\nKeep each bar between its [ ] marks. Press OK.",
        variants={"16x2": "Both hands\nPress OK."},
    ),
    "bilateral.place": Msg(
        "Hands on grip pads\nL: pad {left}, R: pad {right}\nPress OK when ready.",
        variants={"16x2": "Grip pads {left}+{right}\nPress OK."},
        longest={"left": 16, "right": 16},
    ),
    "bilateral.comfortable": Msg("Grip both firmly.\nNot hard.", "bars", variants={"16x2": ""}),
    "bilateral.hold": Msg("Keep both bars\nin their [ ] marks.", "bars", variants={"16x2": ""}),
    "bilateral.mirror": Msg(
        "Your {lead} hand leads.\nThen copy it with your {follow} hand.",
        variants={"16x2": "{lead} leads,\nthen copy it."},
        longest={"lead": "right", "follow": "right"},
    ),
    "bilateral.lead": Msg(
        "{hand} hand first:\ninto the [ ] marks.", "bars", variants={"16x2": ""}, longest=_HAND
    ),
    "bilateral.copy": Msg(
        "Copy your other hand\nwith your {hand} hand",
        "bars",
        variants={"16x2": ""},
        longest=_HAND,
    ),
    "bilateral.again": Msg(
        "Let's try again.\nUse both hands when the bars show. Press OK.",
        variants={"16x2": "Try again?\nPress OK."},
    ),
    "bilateral.too_hard": Msg(
        "Gently!\nThat was harder than needed.", variants={"16x2": "Gently!\nNot so hard."}
    ),
    "bilateral.result": Msg(
        "Set done!\nBoth bars in their marks {pct}% of the time.",
        variants={"16x2": "Set done!\nIn marks {pct}%"},
        longest={"pct": 100},
    ),
    "bars.left": Msg("L", "line"),
    "bars.right": Msg("R", "line"),
    # Priming (MotorProtocol.prime): a day without vibration runs the task unprimed.
    "motor.priming_skipped": Msg(
        "No warm-up buzz today.\nWe go straight on.", variants={"16x2": "No warm-up today"}
    ),
    # -- motor: finger range of motion and imagery ------------------------------------------
    # Finger screens name the finger ("thumb", "index", ...). The virtual patient bends on
    # "bend", lifts back on "lift", holds its hand up (tremor) on "raise", rests it on "hand
    # still"; no glove screen says "pad" or "squeeze".
    "fingers.intro": Msg(
        "Finger movement\nPut the glove on your {hand} hand. Press OK.",
        variants={"16x2": "Finger movement\nGlove on? OK"},
        longest=_HAND,
    ),
    "fingers.flat": Msg(
        "Lay your hand flat on the table, fingers straight. Press OK.",
        variants={"16x2": "Hand flat, then\npress OK."},
    ),
    "fingers.keep_still": Msg(
        "Keep your hand still.\nThe glove is learning your hand.",
        variants={"16x2": "Keep your hand\nstill..."},
    ),
    "fingers.not_still": Msg(
        "A little movement there.\nLet's try that again.",
        variants={"16x2": "Let's try again."},
    ),
    "fingers.raise": Msg(
        "Raise your hand off the table and hold it still.",
        "progress",
        variants={"16x2": "Raise your hand"},
        longest={"done": 9, "total": 9},
    ),
    "fingers.bend": Msg(
        "Finger: {finger}\nBend it as far as you can. Hold.",
        "progress",
        variants={"16x2": "{finger}: bend"},
        longest={"done": 9, "total": 9, "finger": "middle"},
    ),
    "fingers.lift": Msg(
        "Finger: {finger}\nLift it back as far as you can. Hold.",
        "progress",
        variants={"16x2": "{finger}: lift up"},
        longest={"done": 9, "total": 9, "finger": "middle"},
    ),
    "fingers.relax": Msg(
        "Relax your finger.\nLet it rest.",
        variants={"16x2": "Relax your\nfinger."},
    ),
    "fingers.result": Msg(
        "Finger set done.\n{done} fingers measured. Thank you!",
        variants={"16x2": "Fingers done.\n{done} measured."},
        longest={"done": 5},
    ),
    "imagery.intro": Msg(
        "Imagery practice\nPicture each move in your mind. Press OK.",
        variants={"16x2": "Imagine moves.\nPress OK."},
    ),
    "imagery.easy_day": Msg(
        "An easy day today.\nLet's just imagine the moves, for a short while. OK?",
        variants={"16x2": "Easy day: just\nimagine. OK?"},
    ),
    "imagery.next": Msg(
        "Round {done} done.\nPress OK to go on, or Back to stop.",
        variants={"16x2": "Round {done} done\nOK=on Back=stop"},
        longest={"done": 99},
    ),
    "imagery.result": Msg(
        "Imagery done.\n{minutes} minutes of practice. Thank you!",
        variants={"16x2": "Imagery done.\n{minutes} minutes"},
        longest={"minutes": "15.0"},
    ),
    # The scripts: "Imagine ..." screens are imagery, "Watch ..." action observation.
    "imagery.grip_close": Msg(
        "Imagine closing your hand slowly around a cup.",
        "progress",
        variants={"16x2": "Imagine: close"},
        longest={"done": 9, "total": 9},
    ),
    "imagery.grip_hold": Msg(
        "Imagine holding the cup. Feel its weight.",
        "progress",
        variants={"16x2": "Imagine: hold"},
        longest={"done": 9, "total": 9},
    ),
    "imagery.grip_open": Msg(
        "Now imagine opening your hand slowly.",
        "progress",
        variants={"16x2": "Imagine: open"},
        longest={"done": 9, "total": 9},
    ),
    "imagery.grip_watch": Msg(
        "Watch your {other} hand close and open slowly.",
        "progress",
        variants={"16x2": "Watch {other} hand"},
        longest={"done": 9, "total": 9, "other": "right"},
    ),
    "imagery.fingers_touch": Msg(
        "Imagine touching your thumb to each fingertip.",
        "progress",
        variants={"16x2": "Imagine: touch"},
        longest={"done": 9, "total": 9},
    ),
    "imagery.fingers_spread": Msg(
        "Imagine spreading your fingers wide, then relaxing.",
        "progress",
        variants={"16x2": "Imagine: spread"},
        longest={"done": 9, "total": 9},
    ),
    "imagery.fingers_watch": Msg(
        "Watch your {other} thumb touch each fingertip.",
        "progress",
        variants={"16x2": "Watch {other} hand"},
        longest={"done": 9, "total": 9, "other": "right"},
    ),
    "imagery.reach_out": Msg(
        "Imagine reaching out for a glass on the table.",
        "progress",
        variants={"16x2": "Imagine: reach"},
        longest={"done": 9, "total": 9},
    ),
    "imagery.reach_grasp": Msg(
        "Imagine your fingers closing around it.",
        "progress",
        variants={"16x2": "Imagine: grasp"},
        longest={"done": 9, "total": 9},
    ),
    "imagery.reach_back": Msg(
        "Now imagine bringing it back to you slowly.",
        "progress",
        variants={"16x2": "Imagine: back"},
        longest={"done": 9, "total": 9},
    ),
    "imagery.reach_watch": Msg(
        "Watch your {other} hand reach out and back.",
        "progress",
        variants={"16x2": "Watch {other} hand"},
        longest={"done": 9, "total": 9, "other": "right"},
    ),
    # -- rest and encouragement ------------------------------------------------------------
    "rest.title": Msg("Rest\nLet your hand go loose.", "countdown", variants={"16x2": "Rest"}),
    "rest.over": Msg(
        "Rest is over.\nPress OK when ready.",
        variants={"16x2": "Rest is over.\nPress OK."},
    ),
    "encourage.well_done": Msg("Well done!\nKeep going."),
    "encourage.halfway": Msg(
        "Halfway there!\nYou are doing well.", variants={"16x2": "Halfway there!"}
    ),
    "encourage.last": Msg("Last one!\nYou are nearly done.", variants={"16x2": "Last one!"}),
    "encourage.steady": Msg("Nice and steady.\nGood work."),
    # -- menu, self-test, settings ---------------------------------------------------------
    "menu.title": Msg("Choose, then OK", "menu_title"),
    "menu.today": Msg("Today's exercises", "menu_item", variants={"16x2": "Exercises"}),
    "menu.selftest": Msg("Check the station", "menu_item", variants={"16x2": "Station check"}),
    "menu.settings": Msg("Settings", "menu_item"),
    "selftest.running": Msg(
        "Checking the station\nPlease wait.",
        variants={"16x2": "Checking...\nPlease wait."},
    ),
    "selftest.passed": Msg(
        "All parts work.\nPress OK.",
        variants={"16x2": "All parts work.\nPress OK."},
    ),
    "settings.sound": Msg("Play sounds?", "yes_no"),
    "settings.saved": Msg("Saved.", variants={"16x2": "Saved."}),
    # -- errors: what to do; the code row tells the technician the rest -------------------
    "error.bus": Msg(
        "Station problem\nSwitch it off and on again.",
        "error",
        variants={"16x2": "Turn off and on"},
    ),
    "error.pads": Msg(
        "Grip pad problem.\nCheck its cable, then press OK.",
        "error",
        variants={"16x2": "Check pad cable"},
    ),
    "error.motors": Msg(
        "Buzz pad problem.\nBuzz exercises are off for today.",
        "error",
        variants={"16x2": "Buzz pads off"},
    ),
    "error.glove": Msg(
        "Glove problem.\nCheck the glove cable is plugged in.",
        "error",
        variants={"16x2": "Check glove plug"},
    ),
    "error.storage": Msg(
        "Saving problem.\nPlease call your clinic.",
        "error",
        variants={"16x2": "Call your clinic"},
    ),
    "error.software": Msg(
        "Software problem.\nSwitch it off and on again.",
        "error",
        variants={"16x2": "Turn off and on"},
    ),
    "error.calibration": Msg(
        "Grip pad not set up.\nPlease tell your technician.",
        "error",
        variants={"16x2": "Pad not set up"},
    ),
    "error.config": Msg(
        "Setup problem.\nPlease call your technician.",
        "error",
        variants={"16x2": "Call technician"},
    ),
    # -- technician: self-test and calibration (the technician reads these) ---------------
    "tech.start": Msg(
        "Station self-test\nStart it now?", "yes_no", variants={"16x2": "Start test?"}
    ),
    "tech.motor_buzz": Msg(
        "Motor {motor}\nFeel for a buzz now.",
        variants={"16x2": "Motor {motor}\nFeel the buzz."},
        longest={"motor": 7},
    ),
    "tech.motor_felt": Msg(
        "Did motor {motor} buzz?",
        "yes_no",
        variants={"16x2": "Motor {motor} buzz?"},
        longest={"motor": 7},
    ),
    "tech.lcd_pattern": Msg(
        "Blocks, letters and digits right?", "yes_no", variants={"16x2": "Pattern right?"}
    ),
    "tech.press_button": Msg(
        "Button test\nPlease press {button}.",
        variants={"16x2": "Press {button}"},
        longest={"button": "Right"},
    ),
    "tech.passed": Msg("Self-test passed.\nAll parts work.", variants={"16x2": "Test passed."}),
    "tech.failed": Msg(
        "Self-test: {failed} problem(s).\nSee the report.",
        variants={"16x2": "{failed} problem(s)\nSee the report."},
        longest={"failed": 99},
    ),
    "tech.put_weight": Msg(
        "Pad {pad}\nPut the {weight} N weight on it, then press OK.",
        variants={"16x2": "Pad {pad} {weight} N\nthen OK"},
        longest={"pad": 15, "weight": "20.5"},
    ),
    "tech.remove_weight": Msg(
        "Pad {pad}\nTake the weight off, then press OK.",
        variants={"16x2": "Pad {pad} weight\noff, then OK"},
        longest={"pad": 15},
    ),
    "tech.weight_moving": Msg(
        "Pad {pad}\nThe weight moved. Put it on again, then OK.",
        variants={"16x2": "Pad {pad} moved\nPut again, OK"},
        longest={"pad": 15},
    ),
    "tech.glove_flat": Msg(
        "Glove\nLay it flat and still, then press OK.",
        variants={"16x2": "Glove flat,\nthen OK"},
    ),
    "tech.motor_imu": Msg(
        "Motor {motor}\nStrap the {imu} IMU flat on pad {motor}, then OK.",
        variants={"16x2": "{imu} on pad {motor}\nthen OK"},
        longest={"motor": 7, "imu": "middle"},
    ),
    "tech.cal_saved": Msg(
        "Calibration saved.\nThank you!", variants={"16x2": "Saved.\nThank you!"}
    ),
    "tech.cal_stopped": Msg(
        "Calibration stopped.\nNothing was changed.",
        variants={"16x2": "Stopped.\nNothing changed."},
    ),
    # -- pieces the screens put on their control rows --------------------------------------
    "ui.ok": Msg("OK", "line"),
    "ui.yes": Msg("Yes", "yes_no_label"),
    "ui.no": Msg("No", "yes_no_label"),
    "ui.seconds": Msg("{seconds} s", "line", longest={"seconds": 999}),
    "ui.code": Msg("Code {code}", "line", longest=_CODE),
    "choice.left": Msg("Left", "choice_label"),
    "choice.right": Msg("Right", "choice_label"),
    "choice.first": Msg("First", "choice_label", variants={"16x2": "1st"}),
    "choice.second": Msg("Second", "choice_label", variants={"16x2": "2nd"}),
}

#: Language code -> catalogue. Add translations here.
LANGUAGES: dict[str, dict[str, Msg]] = {"en": EN}


def entry(key: str, lang: str = "en") -> Msg:
    """The catalogue entry for ``key`` (English if the translation lacks it).

    Raises ``KeyError`` naming the key (or the language) when there is none.
    """
    if lang not in LANGUAGES:
        raise KeyError(f"no message catalogue for language {lang!r} (have {sorted(LANGUAGES)})")
    msg = LANGUAGES[lang].get(key) or EN.get(key)
    if msg is None:
        raise KeyError(f"no message {key!r} in the catalogue")
    return msg


def placeholders(template: str) -> set[str]:
    """The ``{name}`` fields a template needs."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def text(key: str, lang: str = "en", size: str | None = None, **params: Any) -> str:
    """The text for ``key`` in ``lang``, the ``size`` variant if there is one, formatted.

    Raises ``KeyError`` naming the key when the message or a parameter it needs is missing.
    Extra parameters are ignored, so a caller may pass the same context to every message.
    """
    msg = entry(key, lang)
    template = msg.variants.get(size, msg.text) if size else msg.text
    missing = placeholders(template) - params.keys()
    if missing:
        raise KeyError(f"message {key!r} needs parameter(s) {', '.join(sorted(missing))}")
    return template.format(**params)


def keys(lang: str = "en") -> list[str]:
    """Every key of a language's catalogue, sorted."""
    return sorted(LANGUAGES[lang])
