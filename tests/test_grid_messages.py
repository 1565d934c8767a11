"""The grid modules' messages and reports, said in Chinese and in English.

The core hands out codes, templates and parameters; the command line renders them in
the environment's language (``LANG=zh_CN.UTF-8``), pages in the request's.
"""

import geopandas as gpd
import pytest
from click.testing import CliRunner

from geo.errors import ConflictError, InputError
from geo.grids import versions
from tests import layouts
from tests.layouts import code, ubox
from webmap.cli import main
from webmap.i18n import catalogue

ZH = {"LANG": "zh_CN.UTF-8", "LC_ALL": None, "LC_MESSAGES": None}
EN = {"LANG": "C.UTF-8", "LC_ALL": None, "LC_MESSAGES": None}
zh = catalogue("zh").gettext


def civgrid(env, *args):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


@pytest.fixture
def cli(settings, monkeypatch):
    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)


def test_import_reports_in_both_languages(db, settings, cli, tmp_path):
    path = tmp_path / "grids.geojson"
    layouts.grid_layout().to_file(path, driver="GeoJSON")
    out = civgrid(ZH, "import", "grids", path, "--dry-run")
    assert out.exit_code == 0, out.output
    assert f"将从 {path.name} 导入 6 行（网格 6 个）" in out.output
    out = civgrid(EN, "import", "grids", path, "--dry-run")
    assert f"would import 6 rows (grid 6) from {path.name}" in out.output
    out = civgrid(ZH, "import", "grids", path)
    assert f"已从 {path.name} 导入 6 行（网格 6 个），为网格版本 1（当前生效）" in out.output
    assert "\n  问题：0 条改变网格" in out.output
    # Parts said one after another are not joined with the catalogue's header (what
    # gettext gives for an empty text)
    assert "Project-Id-Version" not in out.output and "；写入 0 行" in out.output
    out = civgrid(ZH, "assign")
    assert "问题：0 条按网格版本 1 分配（网格内 0、共用边界 0、最近网格 0、未分配 0）；0 条有变化" in out.output
    district = tmp_path / "district.geojson"
    gpd.GeoDataFrame({"code": ["150102000000000"], "name": ["新城区"]},
                     geometry=[ubox(0, 0, 6, 4)], crs=4490).to_file(district, driver="GeoJSON")
    out = civgrid(ZH, "import", "district", district, "--dry-run")
    assert f"将从 {district} 保存辖区边界 150102000000000" in out.output


def test_a_bad_grid_file_is_refused_in_chinese(db, settings, cli, tmp_path):
    gdf = layouts.grid_layout()
    gdf.loc[gdf["code"] == code(5), "name"] = ""
    gdf.loc[gdf["code"] == code(3), "code"] = "150102000001001"
    path = tmp_path / "bad.geojson"
    gdf.to_file(path, driver="GeoJSON")
    out = civgrid(ZH, "import", "grids", path)
    assert out.exit_code == 1
    assert "错误：未做任何更改；输入有以下问题：" in out.output
    assert f"bad.geojson: 第 1 个要素 (code {code(5)}): 名称为空" in out.output
    assert "bad.geojson: 第 2 个要素 (code 150102000001001): 编码 150102000001001 缺少街道段" \
        in out.output


def test_version_cycle_on_the_command_line(db, settings, layout, cli):
    out = civgrid(ZH, "grids", "list")
    assert "当前生效" in out.output and "6 个网格" in out.output
    out = civgrid(ZH, "grids", "validate", 1)
    assert out.exit_code == 0
    assert "网格版本 1（当前生效，6 个网格）：0 个错误，1 个警告——可以启用" in out.output
    assert f"警告：网格 {code(6)} 分为 2 块互不相连的部分" in out.output
    out = civgrid(EN, "grids", "validate", 1)
    assert f"warning: grid {code(6)} has 2 separate parts" in out.output
    out = civgrid(ZH, "grids", "draft", "--label", "试点")
    assert "已由启用版本创建草稿 2" in out.output
    versions.set_geometry(db, settings, 2, code(1), ubox(3.5, 2, 6, 4))
    out = civgrid(ZH, "grids", "diff", 2)
    assert "草稿 2 对比启用版本 1：边界调整 2 个" in out.output
    out = civgrid(EN, "grids", "diff", 2)
    assert "draft 2 against active version 1: 2 reshaped" in out.output
    out = civgrid(ZH, "grids", "activate", 2, "--expect-active", 9)
    assert out.exit_code == 1
    assert "您预期启用的是版本 9。未做启用" in out.output
    assert "再按预期启用版本 1 重新启用" in out.output
    out = civgrid(ZH, "grids", "activate", 2)
    assert out.exit_code == 0 and "已启用网格版本 2（原为 1；" in out.output
    assert "；网格：未变 4 个、边界调整 2 个" in out.output
    out = civgrid(ZH, "grids", "rollback")
    assert "已回退到网格版本 1（原为 2；" in out.output
    out = civgrid(ZH, "grids", "balance", "--units", "lattice")
    assert out.exit_code == 0
    assert "版本 1 各网格未结案问题均衡（以" in out.output and "200 米方格为调整单元" in out.output
    assert "没有能缩小差距的调整：未生成草稿" in out.output
    out = civgrid(EN, "grids", "balance", "--units", "lattice")
    assert "balance of open issues over the grids of version 1" in out.output


def test_a_refused_activation_lists_the_findings_in_chinese(db, settings, layout, cli,
                                                             tmp_path):
    from tests.test_versions import import_draft, replace

    draft = import_draft(db, settings, tmp_path,
                         replace(layouts.grid_layout(), code(2), ubox(2, 2, 4.5, 4)))
    out = civgrid(ZH, "grids", "activate", draft)
    assert out.exit_code == 1
    assert f"网格版本 {draft} 不能启用：有 1 个错误" in out.output
    assert f"网格 {code(1)} 与 {code(2)} 重叠" in out.output and "平方米，位置 经度 111." \
        in out.output
    out = civgrid(EN, "grids", "activate", draft)
    assert f"grid version {draft} cannot be activated: 1 error(s)" in out.output
    assert f"grids {code(1)} and {code(2)} overlap by" in out.output


def test_edits_and_their_refusals_in_chinese(db, settings, layout):
    draft = versions.create_draft(db)
    report = versions.merge_grids(db, settings, draft, [code(2), code(1)])
    assert report.render(zh) == (f"草稿 {draft}：将 {code(2)}, {code(1)} 合并为 {code(2)}；"
                                 f"修改 {code(2)}；删除 {code(1)}")
    assert str(report).startswith(f"merged {code(2)}, {code(1)} into {code(2)} in draft {draft}")
    report = versions.set_attributes(db, draft, code(4), leader="李四", population=5)
    assert report.render(zh).startswith(f"草稿 {draft}：修改了 {code(4)} 的包片领导、人口")
    with pytest.raises(InputError) as err:
        versions.set_attributes(db, draft, code(4), leader="张" * 201)
    assert err.value.code == "text.too_long"
    assert err.value.render(zh) == "包片领导：201 个字符，最多 200 个"
    other = "150102001002001"
    with pytest.raises(InputError) as err:
        versions.merge_grids(db, settings, draft, [code(4), other])
    assert err.value.code == "grids.merge_communities"
    assert f"{other} 与 {code(4)} 不属于同一社区" in err.value.render(zh)
    with pytest.raises(ConflictError) as err:
        versions.set_attributes(db, 1, code(4), leader="李四")
    assert err.value.code == "grids.not_a_draft"
    assert err.value.render(zh) == "网格版本 1 状态为当前生效：只能编辑草稿（请先复制为新草稿）"
