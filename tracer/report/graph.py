"""``tracer report --format graphml|gexf``: the traced flows as a graph, for Gephi and friends.

Nodes are the accounts reached (the holdings, and the seed senders), edges the transfers that
carried taint. Node attributes: ``label`` (the account id, which Gephi shows), ``category``
(tracer's label: exchange, otc, …; named so because Gephi reads ``label`` as the display
name), ``stopped``, ``tainted_balance``, ``tainted_in``, ``unexplained``, ``min_hops``,
``first_ts``. Edge attributes: ``tx_id``, ``ts``, ``value``, ``tainted`` (also the weight),
``hop``. Written with ``xml.etree``, so every string is escaped; characters that XML 1.0
cannot hold at all (control characters) are shown as ``\\xNN``.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

from tracer import __version__
from tracer.report.custody import ResultFolder

__all__ = ["to_graphml", "to_gexf"]

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
GEXF_NS = "http://gexf.net/1.3"

NODE_ATTRS = (
    ("label", "string"),
    ("category", "string"),
    ("stopped", "boolean"),
    ("tainted_balance", "double"),
    ("tainted_in", "double"),
    ("unexplained", "double"),
    ("min_hops", "long"),
    ("first_ts", "string"),
)
EDGE_ATTRS = (
    ("tx_id", "string"),
    ("ts", "string"),
    ("value", "double"),
    ("tainted", "double"),
    ("hop", "long"),
)


def _x(value: object) -> str:
    """A value as XML text: ISO times, ``true``/``false``, shortest float repr."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def _graph(data: ResultFolder) -> tuple[list[tuple[str, dict]], list[dict]]:
    """(node id, attributes) for every account, and the flows, in a fixed order."""
    nodes: dict[str, dict] = {}
    for h in data.holdings.to_pylist():
        nodes[h["account"]] = {
            "label": h["account"],
            "category": h["label"],
            "stopped": bool(h["stopped"]),
            "tainted_balance": h["tainted_balance"],
            "tainted_in": h["tainted_in"],
            "unexplained": h["unexplained"],
            "min_hops": h["min_hops"],
            "first_ts": h["first_ts"],
        }
    flows = data.flows.to_pylist()
    for f in flows:
        for acc in (f["src"], f["dst"]):
            if acc not in nodes:  # a seed sender: sent taint, holds none of it
                nodes[acc] = {
                    "label": acc,
                    "category": None,
                    "stopped": False,
                    "tainted_balance": 0.0,
                    "tainted_in": 0.0,
                    "unexplained": 0.0,
                    "min_hops": 0,
                    "first_ts": None,
                }
    ids: dict[str, str] = {}
    for acc in sorted(nodes):
        key = _x(acc)  # unique unless two ids differ only in characters XML cannot hold
        while key in ids.values():
            key += "'"
        ids[acc] = key
    out_nodes = [(ids[a], nodes[a]) for a in sorted(nodes)]
    edges = [
        {"source": ids[f["src"]], "target": ids[f["dst"]], **{k: f[k] for k, _ in EDGE_ATTRS}}
        for f in flows
    ]
    return out_nodes, edges


def _bytes(root: ET.Element) -> bytes:
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def to_graphml(data: ResultFolder) -> bytes:
    """GraphML (UTF-8) of the traced flows."""
    ET.register_namespace("", GRAPHML_NS)
    q = lambda tag: f"{{{GRAPHML_NS}}}{tag}"  # noqa: E731
    root = ET.Element(q("graphml"))
    for name, kind in NODE_ATTRS:
        ET.SubElement(
            root, q("key"), {"id": f"n_{name}", "for": "node", "attr.name": name, "attr.type": kind}
        )
    for name, kind in EDGE_ATTRS:
        ET.SubElement(
            root, q("key"), {"id": f"e_{name}", "for": "edge", "attr.name": name, "attr.type": kind}
        )
    ET.SubElement(
        root,
        q("key"),
        {"id": "e_weight", "for": "edge", "attr.name": "weight", "attr.type": "double"},
    )
    graph = ET.SubElement(root, q("graph"), {"id": "trace", "edgedefault": "directed"})
    nodes, edges = _graph(data)
    for node_id, attrs in nodes:
        node = ET.SubElement(graph, q("node"), {"id": node_id})
        for name, _ in NODE_ATTRS:
            if attrs[name] is not None:
                ET.SubElement(node, q("data"), {"key": f"n_{name}"}).text = _x(attrs[name])
    for i, e in enumerate(edges):
        edge = ET.SubElement(
            graph, q("edge"), {"id": f"e{i}", "source": e["source"], "target": e["target"]}
        )
        for name, _ in EDGE_ATTRS:
            if e[name] is not None:
                ET.SubElement(edge, q("data"), {"key": f"e_{name}"}).text = _x(e[name])
        ET.SubElement(edge, q("data"), {"key": "e_weight"}).text = _x(e["tainted"])
    return _bytes(root)


def to_gexf(data: ResultFolder) -> bytes:
    """GEXF 1.3 (UTF-8) of the traced flows; edge weight = tainted value."""
    ET.register_namespace("", GEXF_NS)
    q = lambda tag: f"{{{GEXF_NS}}}{tag}"  # noqa: E731
    root = ET.Element(q("gexf"), {"version": "1.3"})
    meta = ET.SubElement(root, q("meta"))
    ET.SubElement(meta, q("creator")).text = f"tracer {__version__}"
    ET.SubElement(meta, q("description")).text = _x(
        f"Trace ({data.meta.get('rule')}) of {data.meta.get('seed_value')} {data.unit}: "
        "accounts reached and the transfers that carried taint"
    )
    graph = ET.SubElement(root, q("graph"), {"defaultedgetype": "directed", "mode": "static"})
    gexf_type = {"string": "string", "boolean": "boolean", "double": "double", "long": "long"}
    for cls, attrs in (("node", NODE_ATTRS[1:]), ("edge", EDGE_ATTRS)):
        block = ET.SubElement(graph, q("attributes"), {"class": cls})
        for name, kind in attrs:
            ET.SubElement(
                block, q("attribute"), {"id": name, "title": name, "type": gexf_type[kind]}
            )
    nodes, edges = _graph(data)
    xnodes = ET.SubElement(graph, q("nodes"))
    for node_id, attrs in nodes:
        node = ET.SubElement(xnodes, q("node"), {"id": node_id, "label": _x(attrs["label"])})
        values = ET.SubElement(node, q("attvalues"))
        for name, _ in NODE_ATTRS[1:]:
            if attrs[name] is not None:
                ET.SubElement(values, q("attvalue"), {"for": name, "value": _x(attrs[name])})
    xedges = ET.SubElement(graph, q("edges"))
    for i, e in enumerate(edges):
        edge = ET.SubElement(
            xedges,
            q("edge"),
            {
                "id": str(i),
                "source": e["source"],
                "target": e["target"],
                "weight": _x(float(e["tainted"])),
                "label": _x(e["tx_id"]),
            },
        )
        values = ET.SubElement(edge, q("attvalues"))
        for name, _ in EDGE_ATTRS:
            if e[name] is not None:
                ET.SubElement(values, q("attvalue"), {"for": name, "value": _x(e[name])})
    return _bytes(root)
