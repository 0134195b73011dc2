"""config.xml as pfSense's PHP sees it: the ``$config`` array, and back to XML.

What the lab hands the operator's PHP scripts (as JSON) and reads back from them. The rules are
pfSense's own (pfsense/pfsense ``src/etc/inc/xmlparse.inc``, RELENG_2_7_2):

- ``parse_xml_config``: an element named in ``listtags()`` is always a list, even when it occurs
  once; an element without children is its text with tabs and newlines trimmed, ``""`` when
  empty; other elements are maps keyed by tag.
- ``dump_xml_config``: a list under a list tag repeats the tag; ``true`` and ``""`` write an
  empty element, ``false`` nothing; ``descr``, ``detail``, ``username``... go in CDATA; one tab
  of indent per level under ``<pfsense>``.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from typing import Any

# xmlparse.inc listtags() (RELENG_2_7_2; the package list tags the haproxy section uses are in it).
LISTTAGS = frozenset("""
    acls alias aliasurl allowedip allowedhostname authserver bridged build_port_path ca cacert
    cert crl clone config container columnitem checkipservice depends_on_package disk dnsserver
    dnsupdate domainoverrides dyndns earlyshellcmd element encryption-algorithm-option field
    fieldname gateway_item gateway_group gif gre group hash-algorithm-option hosts ifgroupentry
    igmpentry interface_array item key lagg laggroup lbaction lbpool l7rules lbprotocol member
    menu tab mobilekey mobilegroup monitor_type mount npt ntpserver onetoone openvpn-server
    openvpn-client openvpn-csc option package passthrumac phase1 phase2 ppp pppoe priv
    proxyarpnet pool qinqentry queue pages pipe radnsserver roll route row rrddatafile rule
    schedule service servernat servers sshkeyfile serversdisabled shellcmd staticmap subqueue
    switch swport timerange tunnel user vip virtual_server vlan vlangroup voucherdbfile vxlan
    wgpeer winsserver wolentry widget xmldatafile
""".split())

# xmlparse.inc is_cdata_entity(): names that start with one of these are written as CDATA.
_CDATA = re.compile(
    "^(aclname|auth_pass|auth_prompt|auth_user|certca|certname|city|common_name|descr|detail|"
    "email|encryption_password|hint|ldap_attr|ldap_authcn|ldap_basedn|ldap_basedomain|ldap_bind|"
    "ldapbinddn|ldapbindpass|ldap_extended_query|ldap_filter|ldap_pam_groupdn|ldap_pass|"
    "ldap_user|login_banner|organization|password|proxypass|proxyuser|rangedescr|state|text|"
    "username|varusersusername|varuserspassword)"
)


def to_array(xml_text: str) -> dict[str, Any]:
    """The ``$config`` array of a config.xml (its ``<pfsense>`` element's content)."""
    root = ET.fromstring(xml_text)
    value = _element(root)
    return value if isinstance(value, dict) else {}


def _element(el: ET.Element) -> Any:
    children = list(el)
    if not children:
        return (el.text or "").strip("\t\n\r")
    out: dict[str, Any] = {}
    for child in children:
        tag = child.tag.lower()
        value = _element(child)
        if tag in LISTTAGS:
            # endElement drops an empty list entry ("erroneous empty $listtag elements").
            if value == "":
                out.setdefault(tag, [])
                continue
            out.setdefault(tag, []).append(value)
        else:
            out[tag] = value
    return out


def to_xml(config: dict[str, Any]) -> str:
    """config.xml text for a ``$config`` array, as ``dump_xml_config($config, 'pfsense')``."""
    return '<?xml version="1.0"?>\n<pfsense>\n' + _dump(config, 1) + "</pfsense>\n"


def _scalar(tag: str, value: Any, indent: int) -> str:
    pad = "\t" * indent
    if value is True or value == "" or value is None:
        return f"{pad}<{tag}></{tag}>\n"
    if value is False:
        return ""
    text = _php_string(value)
    escaped = html.escape(text, quote=True).replace("&#x27;", "&apos;")
    if _CDATA.match(tag):
        return f"{pad}<{tag}><![CDATA[{escaped}]]></{tag}>\n"
    return f"{pad}<{tag}>{escaped}</{tag}>\n"


def _php_string(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _items(value: Any) -> list[Any]:
    # A PHP array with gaps in its keys arrives as a JSON object; its order is kept.
    return list(value.values()) if isinstance(value, dict) else list(value)


def _dump(arr: Any, indent: int) -> str:
    if not isinstance(arr, (dict, list)):
        return ""
    pairs = arr.items() if isinstance(arr, dict) else enumerate(arr)
    out: list[str] = []
    for key, val in pairs:
        tag = str(key)
        # A list tag's array is written as the tag repeated, once per item (pfSense's list tags).
        repeated = isinstance(val, (dict, list)) and tag.lower() in LISTTAGS
        out.extend(_tagged(tag, item, indent) for item in (_items(val) if repeated else [val]))
    return "".join(out)


def _tagged(tag: str, val: Any, indent: int) -> str:
    if not isinstance(val, (dict, list)):
        return _scalar(tag, val, indent)
    pad = "\t" * indent
    if not val:
        return f"{pad}<{tag}></{tag}>\n"
    return f"{pad}<{tag}>\n{_dump(val, indent + 1)}{pad}</{tag}>\n"
