"""Built-in configuration of the simulated PBX, used when no seed file replaces a part of it.

Realistic enough for a demo: four templates, two PRGs, two MDUGs (one external twin), four
locations and departments, the usual Mitel set models, and a few reserved DNs.
"""

SYSTEM = {"name": "MiVB-SIM", "version": "10.1.0.0"}

LICENCES = {"ip_users": 500, "ehdu": 20, "acd_agents": 20, "mdu": 50}

CAPACITY = {"users": 2500, "devices": 5000}

CATALOG = {
    "templates": [
        {
            "name": "Entry User",
            "group_type": "none",
            "cos": 1,
            "cor": 1,
            "location": "Head Office",
            "department": "General",
            "language": "en",
            "voicemail": False,
            "phones": [{"type": "generic_sip", "model": "Generic SIP Phone"}],
        },
        {
            "name": "Telephony User",
            "group_type": "none",
            "cos": 2,
            "cor": 2,
            "location": "Head Office",
            "department": "General",
            "language": "en",
            "voicemail": True,
            "phones": [{"type": "desk_phone", "model": "6920"}],
        },
        {
            "name": "Premium User",
            "group_type": "mdug",
            "cos": 3,
            "cor": 3,
            "location": "Head Office",
            "department": "Sales",
            "language": "en",
            "voicemail": True,
            "phones": [
                {"type": "desk_phone", "model": "6930"},
                {"type": "generic_sip", "model": "Generic SIP Phone"},
            ],
        },
        {
            "name": "Hot Desk Agent",
            "group_type": "none",
            "cos": 4,
            "cor": 4,
            "location": "Paris",
            "department": "Support",
            "language": "fr",
            "voicemail": False,
            "phones": [{"type": "hot_desk", "model": None}],
        },
    ],
    "groups": [
        {"name": "Sales PRG", "type": "prg", "kind": None},
        {"name": "Support PRG", "type": "prg", "kind": None},
        {"name": "Executive MDUG", "type": "mdug", "kind": "standard"},
        {"name": "Mobile Twin MDUG", "type": "mdug", "kind": "external_twin"},
    ],
    "locations": ["Head Office", "Paris", "Lyon", "Montreal"],
    "departments": ["General", "Sales", "Support", "Finance"],
    "device_models": [
        {"name": "6920", "type": "desk_phone"},
        {"name": "6930", "type": "desk_phone"},
        {"name": "6940", "type": "desk_phone"},
        {"name": "6970", "type": "desk_phone"},
        {"name": "5330e", "type": "desk_phone"},
        {"name": "Generic SIP Phone", "type": "generic_sip"},
    ],
    "cos": list(range(1, 11)),
    "cor": list(range(1, 11)),
    "languages": ["en", "fr"],
    "reserved_dns": ["1000", "1001", "1999"],
}
