"""Finding a CJK font: the configured file wins; fontconfig's answer counts only if it covers Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.errors import FontNotFound
from kiosk.fonts import find_cjk_font


def fake_fontconfig(match: str | None, covering: list[Path] | None):
    def run(argv):
        if argv[0] == "fc-match":
            return match
        return None if covering is None else "".join(f"{p}\n" for p in covering)

    return run


@pytest.fixture
def fonts(tmp_path) -> dict[str, Path]:
    files = {name: tmp_path / f"{name}.ttf" for name in ("dejavu", "wqy", "noto", "mine")}
    for path in files.values():
        path.write_bytes(b"\0")
    return files


def test_the_configured_font_is_used_as_is(fonts):
    run = fake_fontconfig(str(fonts["wqy"]), [fonts["wqy"]])
    assert find_cjk_font(fonts["mine"], run=run) == fonts["mine"]


def test_a_configured_font_that_is_missing_names_the_setting(tmp_path):
    with pytest.raises(FontNotFound) as err:
        find_cjk_font(tmp_path / "nope.ttf", run=fake_fontconfig(None, []))
    assert "font_path" in str(err.value) and "nope.ttf" in str(err.value)


def test_fontconfig_match_is_taken_when_it_covers_chinese(fonts):
    run = fake_fontconfig(str(fonts["noto"]), [fonts["wqy"], fonts["noto"]])
    assert find_cjk_font(None, run=run, well_known=[fonts["wqy"]]) == fonts["noto"]


def test_a_latin_only_match_is_skipped_for_a_well_known_cjk_font(fonts):
    run = fake_fontconfig(str(fonts["dejavu"]), [fonts["wqy"], fonts["noto"]])
    assert find_cjk_font(None, run=run, well_known=[fonts["wqy"], fonts["noto"]]) == fonts["wqy"]


def test_any_font_fontconfig_lists_for_chinese_is_the_last_resort(fonts):
    run = fake_fontconfig(str(fonts["dejavu"]), [fonts["noto"]])
    assert find_cjk_font(None, run=run, well_known=[]) == fonts["noto"]


def test_without_fontconfig_a_well_known_file_is_used(fonts, tmp_path):
    run = fake_fontconfig(None, None)
    assert find_cjk_font(None, run=run, well_known=[tmp_path / "absent.ttc", fonts["wqy"]]) == fonts["wqy"]


def test_no_chinese_font_at_all_names_the_font_path_setting(fonts):
    run = fake_fontconfig(str(fonts["dejavu"]), [])
    with pytest.raises(FontNotFound) as err:
        find_cjk_font(None, run=run, well_known=[fonts["wqy"]])
    assert "font_path" in str(err.value) and "kiosk.toml" in str(err.value)


def test_this_machine_has_a_chinese_font():
    """CI installs fonts-wqy-microhei; the real lookup must find a file fontconfig lists for zh."""
    assert find_cjk_font(None).is_file()
