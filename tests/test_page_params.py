"""Planner and toilet pages refuse a parameter they do not take, as the other pages do:
a misspelt filter must not look applied."""

import pytest

from tests import accounts


@pytest.fixture
def client(demo_app):
    return accounts.client(demo_app)


@pytest.mark.parametrize("url, name", [
    ("/toilets/?colr=density", "colr"),
    ("/toilets/list?sttus=accepted", "sttus"),
    ("/toilets/list.csv?kindd=public", "kindd"),
    ("/toilets/ledger.xlsx?areaa=1", "areaa"),
    ("/planner/?draft=1", "draft"),
])
def test_an_unknown_parameter_is_refused_naming_it(client, url, name):
    resp = client.get(url)
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert f"此处不支持参数 &#39;{name}&#39;" in page, page[:300]


@pytest.mark.parametrize("url", ["/toilets/?colour=density&radius=500&lang=zh",
                                 "/toilets/list?status=accepted&page=1", "/planner/"])
def test_the_parameters_a_page_takes_are_accepted(client, url):
    assert client.get(url).status_code == 200
