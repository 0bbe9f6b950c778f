"""Complete lists: the ratings list gives the total of its filter (every page together, equal to the rows listed),
and the prompted cases no citizen rated (timeouts, system defaults) have their own view with the same filters."""

from __future__ import annotations

import re

import pytest
from console_helpers import sign_in

NOV = "from=2026-11-01&to=2026-11-30"


def total_of(html: str) -> int:
    return int(re.search(r'<span id="total">(\d+)</span>', html).group(1))


@pytest.mark.parametrize(
    "query",
    ["", "&window=A01", "&department=RS", "&level=bad", "&level=5", "&clerk=1004", "&channel=3", "&flag=any"],
)
def test_the_total_is_every_rating_of_the_filter(app_client, query):
    sign_in(app_client, "admin")
    html = app_client.get(f"/console/ratings?{NOV}{query}").text
    listed = len(re.findall(r'<tr class="[^"]*" data-id=', html))
    assert 'id="more"' not in html  # one page: the rows are the whole filter
    assert total_of(html) == listed


def test_a_reviewer_sees_the_total_of_their_department_only(app_client):
    sign_in(app_client, "sc_reviewer")
    html = app_client.get(f"/console/ratings?{NOV}").text
    assert total_of(html) == len(re.findall(r'<tr class="[^"]*" data-id=', html)) == 8  # A01: C1–C5, C7, C8 and 追评


def unrated_rows(html: str) -> list[tuple[str, str, str]]:
    row = r'<tr data-case="([^"]+)" data-outcome="([^"]+)">\s*<td[^>]*>[^<]*</td>\s*<td[^>]*>([^<]*)<'
    return re.findall(row, html)


def test_unrated_cases_are_listed_with_what_happened(app_client):
    sign_in(app_client, "admin")
    html = app_client.get(f"/console/ratings?{NOV}&show=unrated").text
    assert unrated_rows(html) == [("C6", "timeout", "未评价，已超时"), ("C11", "default", "系统默认评价")]
    assert total_of(html) == 2  # the dashboard's 未评 cases of November
    one = app_client.get(f"/console/ratings?{NOV}&show=unrated&window=A01").text
    assert [c for c, _, _ in unrated_rows(one)] == ["C6"] and total_of(one) == 1


def test_unrated_view_refuses_rating_only_filters_and_unknown_views(app_client):
    sign_in(app_client, "admin")
    answer = app_client.get(f"/console/ratings?{NOV}&show=unrated&level=bad")
    assert answer.status_code == 400 and "未评价办件没有评价等级" in answer.text
    assert app_client.get(f"/console/ratings?{NOV}&show=everything").status_code == 400


def test_a_reviewer_sees_only_their_departments_unrated_cases(app_client):
    sign_in(app_client, "rs_reviewer")
    html = app_client.get(f"/console/ratings?{NOV}&show=unrated").text
    assert [c for c, _, _ in unrated_rows(html)] == ["C11"] and total_of(html) == 1
