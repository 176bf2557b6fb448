"""Calibrated signals on top of the drivers: force pads, glove, haptics, calibration records,
vibration dose and the acquisition loop. Imports only ``drivers``, numpy, gpiozero (the PWM
motor fallback) and the standard library; importing touches no hardware."""
