"""The station's five buttons by name: a leaf module, so that the config check needs no
GPIO library (:mod:`ui_lcd.buttons` drives them)."""

KEYS = ("ok", "back", "left", "right", "stop")
