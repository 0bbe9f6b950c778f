"""The window evaluation terminal (评价器): screen flow, durable outbox, triggers and Kivy view."""
