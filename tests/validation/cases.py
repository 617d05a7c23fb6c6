"""Hostile and invalid manifests, each with the one finding it must produce.

Each case is (id, manifest bytes, code, line, column, message). Manifests are
variants of base_offer.yaml; line numbers refer to the variant.
"""

# Exact expected messages are long on purpose: they are what a user reads.
# ruff: noqa: E501

from __future__ import annotations

from offer_helpers import BASE


def sub(old: str, new: str, count: int = 1) -> bytes:
    assert old in BASE, old
    return BASE.replace(old, new, count).encode("utf-8")


BOMB = b"a: &a [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n".encode()
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)

CASES: list[tuple[str, bytes, str, int, int, str]] = [
    # -- hostile bytes and YAML ------------------------------------------------------------
    (
        "empty file",
        b"",
        "EmptyDocument",
        1,
        1,
        "the file holds no YAML document (empty, comments only or null)",
    ),
    (
        "comments only",
        b"# nothing here\n# at all\n",
        "EmptyDocument",
        1,
        1,
        "the file holds no YAML document (empty, comments only or null)",
    ),
    (
        "null document",
        b"null\n",
        "EmptyDocument",
        1,
        1,
        "the file holds no YAML document (empty, comments only or null)",
    ),
    (
        "top-level list",
        b"- apiVersion: offers.marketplace/v1\n",
        "NotAMapping",
        1,
        1,
        "the document is a list; expected a mapping of keys to values",
    ),
    (
        "top-level scalar",
        b"just text\n",
        "NotAMapping",
        1,
        1,
        "the document is a single value; expected a mapping of keys to values",
    ),
    (
        "malformed flow",
        b"apiVersion: [offers\nkind: Offer\n",
        "YamlSyntax",
        2,
        5,
        "did not find expected ',' or ']' (while parsing a flow sequence)",
    ),
    (
        "duplicate key",
        sub("  target: draft\n", "  target: draft\n  target: live\n"),
        "DuplicateKey",
        8,
        3,
        "duplicate key 'target' (first defined on line 7)",
    ),
    (
        "python object tag",
        sub("target: draft", "target: !!python/object/apply:os.system [id]"),
        "ForbiddenTag",
        7,
        11,
        "tag '!!python/object/apply:os.system' is not allowed; offer files hold plain data only",
    ),
    (
        "local tag",
        sub("target: draft", "target: !env DRAFT"),
        "ForbiddenTag",
        7,
        11,
        "tag '!env' is not allowed; offer files hold plain data only",
    ),
    (
        "binary tag",
        sub("target: draft", "target: !!binary ZHJhZnQ="),
        "ForbiddenTag",
        7,
        11,
        "tag '!!binary' is not allowed; offer files hold plain data only",
    ),
    (
        "alias bomb",
        BOMB,
        "AliasLimit",
        2,
        8,
        "aliases expand to more than 100,000 nodes (an alias bomb?)",
    ),
    (
        "recursive alias",
        b"a: &loop [1, *loop]\n",
        "AliasLimit",
        1,
        14,
        "an alias refers to a node that contains it (recursive alias)",
    ),
    ("500k nested flow", b"[" * 500_000, "TooDeep", 1, 1001, "nesting is deeper than 64 levels"),
    (
        "deep block nesting",
        b"a:\n" + b"- " * 2000 + b"x\n",
        "TooDeep",
        2,
        127,
        "nesting is deeper than 64 levels",
    ),
    (
        "over the size limit",
        b"a: " + b"x" * (1024 * 1024) + b"\n",
        "FileTooLarge",
        1,
        1,
        "offer.yaml is larger than the limit of 1,048,576 bytes",
    ),
    (
        "latin-1 bytes",
        sub("Northwind Loyalty Hub\n", "Northw\xefnd\n").replace("\u00ef".encode(), b"\xef"),
        "NotUtf8",
        9,
        18,
        "invalid UTF-8 (byte 0xef); save the file as UTF-8",
    ),
    (
        "utf-16",
        "apiVersion: x\n".encode("utf-16"),
        "NotUtf8",
        1,
        1,
        "the file is UTF-16 or UTF-32 encoded; save it as UTF-8",
    ),
    (
        "NUL byte",
        sub("target: draft", "target: dr\0aft"),
        "NulByte",
        7,
        13,
        "the file contains a NUL byte; is it binary?",
    ),
    (
        "control character",
        sub("target: draft", "target: dr\x07aft"),
        "YamlSyntax",
        7,
        13,
        "control character U+0007 is not allowed in YAML text",
    ),
    (
        "tab indentation",
        sub("  target: draft\n", "  target: draft\n\tsuspend: true\n"),
        "TabIndentation",
        8,
        1,
        "tab character where YAML expects spaces; indent with spaces",
    ),
    (
        "two documents",
        BASE.encode() + b"---\napiVersion: offers.marketplace/v1\n",
        "MultipleDocuments",
        69,
        1,
        "the file holds more than one YAML document; keep one offer per file",
    ),
    # -- schema ------------------------------------------------------------------------------
    (
        "unknown spec.type",
        sub("type: dynamics-365-customer-engagement", "type: saas"),
        "SchemaEnum",
        6,
        9,
        "unknown offer type 'saas'; supported: dynamics-365-customer-engagement",
    ),
    (
        "typo in a key",
        sub("    alias:", "    alais:"),
        "UnknownProperty",
        9,
        5,
        "unknown property 'alais'; did you mean 'alias'?",
    ),
    (
        "missing required",
        sub("  target: draft\n", ""),
        "SchemaRequired",
        5,
        1,
        "missing required property 'target'",
    ),
    (
        "NO read as false",
        sub("[US, CA, MX]", "[US, NO, MX]"),
        "SchemaType",
        48,
        19,
        'expected a string, got the boolean false (YAML reads the unquoted NO as a non-string; write "NO" in quotes)',
    ),
    (
        "version read as float",
        sub('appVersion: "0.9.0"', "appVersion: 0.9"),
        "SchemaType",
        17,
        17,
        'expected a string, got the number 0.9 (YAML reads the unquoted 0.9 as a non-string; write "0.9" in quotes)',
    ),
    (
        "octal 010",
        sub('amount: "10.00"', "amount: 010"),
        "SchemaType",
        55,
        42,
        'expected a string, got the number 8 (YAML reads the unquoted 010 as a non-string; write "010" in quotes)',
    ),
    (
        "bare date stays text",
        sub('appVersion: "0.9.0"', "appVersion: 2024-01-31"),
        "SchemaPattern",
        17,
        17,
        "'2024-01-31' is not valid: Version of the app shown to customers, two to four numbers separated by dots "
        '("2.4.1"). Quote it: YAML reads 2.4 as a number.',
    ),
    (
        "block not allowed for destination",
        sub(
            "      azureTable:\n",
            "      httpsEndpoint: {url: https://x.example.com}\n      azureTable:\n",
        ),
        "NotAllowed",
        12,
        7,
        "property 'httpsEndpoint' is not allowed when leadDestination is 'azureTable'",
    ),
    (
        "required by destination",
        sub("leadDestination: azureTable", "leadDestination: marketo"),
        "SchemaRequired",
        10,
        5,
        "missing required property 'marketo' when leadDestination is 'marketo'",
    ),
    (
        "name too long",
        sub("      name: Northwind Loyalty Hub", "      name: " + "N" * 51),
        "SchemaMaxLength",
        23,
        13,
        "is 51 characters long; at most 50 are allowed",
    ),
    (
        "too many keywords",
        sub("[loyalty, rewards, retail]", "[loyalty, rewards, retail, points]"),
        "SchemaMaxItems",
        30,
        7,
        "has 4 items; at most 3 allowed",
    ),
    (
        "duplicate market",
        sub("[US, CA, MX]", "[US, CA, US]"),
        "SchemaUniqueItems",
        48,
        5,
        "lists 'US' more than once",
    ),
    # -- semantic ----------------------------------------------------------------------------
    (
        "name differs from folder",
        sub("name: northwind-loyalty-hub", "name: northwind-loyalty"),
        "NameMismatch",
        4,
        9,
        "metadata.name 'northwind-loyalty' must equal the offer's folder name 'northwind-loyalty-hub'",
    ),
    (
        "bidi character in id",
        sub("name: northwind-loyalty-hub", "name: northwind-loyalty-hub\u202e"),
        "NameMismatch",
        4,
        9,
        "metadata.name 'northwind-loyalty-hub\\u202e' must equal the offer's folder name 'northwind-loyalty-hub' "
        "(it contains invisible or bidirectional characters such as U+202E)",
    ),
    (
        "http link",
        sub("helpLink: https://", "helpLink: http://"),
        "InsecureLink",
        31,
        17,
        "link 'http://northwindtraders.com/loyalty-hub/help' uses http://; use https://",
    ),
    (
        "unknown market",
        sub("[US, CA, MX]", "[US, CA, XZ]"),
        "UnknownMarket",
        48,
        23,
        "'XZ' is not an ISO 3166-1 alpha-2 country code",
    ),
    (
        "script tag",
        sub("<p>Journeys", "<script>alert(1)</script><p>Journeys"),
        "HtmlTagNotAllowed",
        25,
        20,
        "HTML tag <script> is not allowed; use only p, b, i, em, br, ul, ol, li, h1-h6",
    ),
    (
        "html attribute",
        sub("<p>Journeys", '<p onclick="x()">Journeys'),
        "HtmlTagNotAllowed",
        25,
        20,
        "HTML attributes are not allowed (<p> has onclick)",
    ),
    (
        "help link equals support",
        sub(
            "helpLink: https://northwindtraders.com/loyalty-hub/help",
            "helpLink: https://northwindtraders.com/support/",
        ),
        "HelpLinkSameAsSupport",
        31,
        17,
        "helpLink must differ from contacts.support.url",
    ),
    (
        "asset climbs out",
        sub("large: media/logo-216.png", "large: ../../../etc/logo.png"),
        "AssetOutsideOffer",
        43,
        16,
        "large logo path '../../../etc/logo.png' must stay inside the offer folder: a relative path with / and no '..'",
    ),
    (
        "absolute asset path",
        sub("large: media/logo-216.png", "large: /etc/logo.png"),
        "AssetOutsideOffer",
        43,
        16,
        "large logo path '/etc/logo.png' must stay inside the offer folder: a relative path with / and no '..'",
    ),
    (
        "missing asset",
        sub("large: media/logo-216.png", "large: media/nope.png"),
        "AssetMissing",
        43,
        16,
        "large logo 'media/nope.png' does not exist in the offer folder",
    ),
    (
        "logo of the wrong size",
        sub("large: media/logo-216.png", "large: media/logo-90.png"),
        "PngSize",
        43,
        16,
        "large logo 'media/logo-90.png' is 90x90 pixels; it must be 216x216",
    ),
    (
        "package is not a png",
        sub("large: media/logo-216.png", "large: package/northwind-loyalty-hub.zip.png"),
        "AssetMissing",
        43,
        16,
        "large logo 'package/northwind-loyalty-hub.zip.png' does not exist in the offer folder",
    ),
    (
        "SAS token in URL",
        sub(
            "    packageFile:",
            "    packageLocationUrl: https://nw.blob.core.windows.net/p/x.zip?sv=2022-11-02&sig=AbC%2Fd\n    packageFile:",
        ),
        "InlineSecret",
        63,
        25,
        "packageLocationUrl holds a SAS token (sig=) in the URL (value not shown); drop the query string and "
        "name the SAS token's variable in sasTokenSecretRef",
    ),
    (
        "connection string inline",
        sub(
            "NORTHWIND_LEADS_TABLE_CONN",
            "DefaultEndpointsProtocol=https;AccountName=nw;AccountKey=c2VjcmV0==",
        ),
        "InlineSecret",
        13,
        36,
        "connectionStringSecretRef holds a secret value instead of the name of an environment variable "
        "(value not shown); write the name of the environment variable that holds it",
    ),
]
