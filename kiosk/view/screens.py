"""All the kiosk's screens in one ScreenManager, named after ``kiosk.flow.Screen`` values (no transitions)."""

from __future__ import annotations

from kivy.uix.screenmanager import NoTransition, ScreenManager

from kiosk.flow import Screen


def screen_classes() -> dict[Screen, type]:
    from kiosk.view.admin_pin import AdminPinScreen
    from kiosk.view.case_entry import CaseEntryScreen
    from kiosk.view.contact import ContactScreen
    from kiosk.view.idle import IdleScreen
    from kiosk.view.maintenance import MaintenanceScreen
    from kiosk.view.paused import PausedScreen
    from kiosk.view.prompt import PromptScreen
    from kiosk.view.reasons import ReasonsScreen
    from kiosk.view.signed_out import SignedOutScreen
    from kiosk.view.staff_menu import StaffMenuScreen
    from kiosk.view.staff_pin import StaffPinScreen
    from kiosk.view.thanks import ThanksScreen

    return {
        Screen.SIGNED_OUT: SignedOutScreen,
        Screen.IDLE: IdleScreen,
        Screen.PROMPT: PromptScreen,
        Screen.REASONS: ReasonsScreen,
        Screen.CONTACT: ContactScreen,
        Screen.THANKS: ThanksScreen,
        Screen.PAUSED: PausedScreen,
        Screen.STAFF_PIN: StaffPinScreen,
        Screen.STAFF_MENU: StaffMenuScreen,
        Screen.CASE_ENTRY: CaseEntryScreen,
        Screen.ADMIN_PIN: AdminPinScreen,
        Screen.MAINTENANCE: MaintenanceScreen,
    }


def build_screen_manager() -> ScreenManager:
    manager = ScreenManager(transition=NoTransition())
    for screen, cls in screen_classes().items():
        manager.add_widget(cls(name=screen.value))
    return manager
