"""The rule table in config/assessment.toml: the defaults are the 篇4 细则, a bad file names the file and the key,
and ``hcp server config import`` keeps a new version only when the content changed."""

from __future__ import annotations

import shutil

import pytest
from assessment_helpers import CONFIG_DIR, china

from haochaping.errors import ConfigError
from sync_server.assessment.rules import AssessmentRules, current_rules, import_rules, load_assessment_rules


def test_the_example_file_is_the_seed_table():
    rules = load_assessment_rules(CONFIG_DIR / "assessment.toml")
    by_code = {k.code: (k.direction, k.points, k.highest) for k in rules.kinds}
    assert by_code["badge"] == ("deduction", 1, 1)
    assert by_code["games"] == ("deduction", 5, 5)
    assert by_code["attitude"] == ("deduction", 2, 5)  # 情节严重 5
    assert by_code["illegal"] == ("deduction", 30, 30)
    assert [by_code[f"honour_{x}"][1] for x in ("county", "prefecture", "province", "national")] == [2, 4, 6, 8]
    assert rules.attitude_reasons == [214, 115]
    assert rules.kind_for("red_card").code == "overdue"
    assert rules == AssessmentRules(**{**rules.model_dump(), "version": rules.version})


@pytest.mark.parametrize(
    "score, grade",
    [
        (100, "优秀"),
        (95, "优秀"),
        (94, "称职"),
        (85, "称职"),
        (84, "基本称职"),
        (70, "基本称职"),
        (69, "不称职"),
        (0, "不称职"),
    ],
)
def test_grade_boundaries_are_inclusive(score, grade):
    assert AssessmentRules(version="t").grade(score) == grade


@pytest.mark.parametrize(
    "edit, key, expected",
    [
        (("points = 1\n", "points = 0\n"), "kinds.0.points", "应不小于 1"),
        (('direction = "deduction"\n', 'direction = "minus"\n'), "kinds.0.direction", "deduction"),
        (('source = "attendance_early"', 'source = "attendance_late"'), "kinds[5].source", "只能对应一个"),
        (("excellent = 95", "excellent = 80"), "competent", "excellent > competent > basic"),
        (("absent_minutes = 30", "absent_minutes = 10"), "absent_minutes", "应大于 late_minutes"),
        (("attitude_reasons = [214, 115]", "attitude_reasons = [214, 513]"), "attitude_reasons[1]", "不是差评"),
        (('end = "12:00"', 'end = "08:00"'), "end", "下班时间应晚于上班时间"),
        (("base_points = 100", "base_point = 100"), "base_point", "未知的配置项"),
    ],
)
def test_a_bad_file_names_the_file_and_the_key(tmp_path, edit, key, expected):
    text = (CONFIG_DIR / "assessment.toml").read_text(encoding="utf-8")
    assert edit[0] in text
    (tmp_path / "assessment.toml").write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_assessment_rules(tmp_path / "assessment.toml")
    assert caught.value.file.endswith("assessment.toml")
    where = f"{caught.value.key}: {caught.value.expected}"  # a nested check names its key in the message
    assert key in where
    assert expected in caught.value.expected


def test_import_keeps_versions_and_a_bad_file_changes_nothing(sqlite_store, tmp_path):
    store = sqlite_store
    with store.read() as conn:
        first = current_rules(conn)
    assert first.version == "xingning-2026-v1"
    assert import_rules(store, CONFIG_DIR, china(2026, 1, 3))[1] is False  # same content: no new version
    shutil.copy(CONFIG_DIR / "assessment.toml", tmp_path / "assessment.toml")
    text = (tmp_path / "assessment.toml").read_text(encoding="utf-8")
    changed_text = text.replace("xingning-2026-v1", "v2").replace("points = 1\n", "points = 3\n", 1)
    (tmp_path / "assessment.toml").write_text(changed_text, encoding="utf-8")
    rules, changed = import_rules(store, tmp_path, china(2026, 1, 4))
    assert changed and rules.version == "v2"
    (tmp_path / "assessment.toml").write_text(text.replace("points = 1\n", "points = -1\n", 1))
    with pytest.raises(ConfigError):
        import_rules(store, tmp_path, china(2026, 1, 5))
    with store.read() as conn:
        assert current_rules(conn).version == "v2"
        assert current_rules(conn).kind("badge").points == 3
