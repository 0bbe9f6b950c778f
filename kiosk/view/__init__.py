"""The kiosk's Kivy view: one module per screen (layout in ``kiosk/kv/<screen>.kv``) and shared widgets."""
