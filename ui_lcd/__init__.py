"""Everything the patient sees and presses: screens, messages, display, buttons, cues."""
