"""The launch files cannot run here (launch/launch_ros are not on PyPI), so check what they reference: every
Node's package exists in src/, its executable is a console script of that package, and its node name has a
section in launch/config/graph.yaml (else it would run on defaults silently)."""
import ast
from pathlib import Path

import pytest
import yaml

from ros_testing import ROOT

LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.py'))


def packages() -> dict[str, Path]:
    found = {}
    for package_xml in (ROOT / 'src').glob('*/package.xml'):
        name = package_xml.read_text().split('<name>')[1].split('</name>')[0]
        found[name] = package_xml.parent
    return found


def console_scripts(package_dir: Path) -> set[str]:
    tree = ast.parse((package_dir / 'setup.py').read_text())
    scripts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and ' = ' in node.value:
            scripts.add(node.value.split(' = ')[0].strip())
    return scripts


def launched_nodes(path: Path) -> list[dict]:
    nodes = []
    for call in ast.walk(ast.parse(path.read_text())):
        if isinstance(call, ast.Call) and getattr(call.func, 'id', None) == 'Node':
            nodes.append({k.arg: k.value.value for k in call.keywords if isinstance(k.value, ast.Constant)})
    return nodes


def test_there_are_edge_device_and_single_machine_launch_files():
    assert {p.name for p in LAUNCH_FILES} >= {'edge.launch.py', 'device.launch.py', 'single_machine.launch.py'}


@pytest.mark.parametrize('path', [p for p in LAUNCH_FILES if p.name != 'single_machine.launch.py'], ids=str)
def test_launched_nodes_exist_and_have_parameters(path):
    known = packages()
    sections = set(yaml.safe_load((ROOT / 'launch' / 'config' / 'graph.yaml').read_text()))
    nodes = launched_nodes(path)
    assert nodes
    for node in nodes:
        assert node['package'] in known, node
        assert node['executable'] in console_scripts(known[node['package']]), node
        assert node['name'] in sections, node


def test_single_machine_includes_both_sides():
    text = (ROOT / 'launch' / 'single_machine.launch.py').read_text()
    assert 'edge.launch.py' in text and 'device.launch.py' in text
