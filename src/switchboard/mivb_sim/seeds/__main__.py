"""`python -m switchboard.mivb_sim.seeds generate N -o FILE`: write a seed of N legacy users.

`python -m switchboard.mivb_sim.seeds demo` prints the path of the demo seed file.
"""

import argparse
import json
import sys
from pathlib import Path

from . import demo_seed_path, generate_seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switchboard.mivb_sim.seeds",
                                     description="Seed files for mivb-sim.")
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="write a seed file of N valid legacy users")
    generate.add_argument("count", type=int, help="number of users, 0 to 2500")
    generate.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    generate.add_argument("--first-dn", default="5000000", help="first DN, 1 to 7 digits (default 5000000)")
    generate.add_argument("--first-did", help="give every phone the DID first-did + (dn - first-dn)")
    generate.add_argument("--key-prefix", default="G", help="user keys are PREFIX00001, ... (default G)")
    generate.add_argument("--email-domain", default="bench.example")
    commands.add_parser("demo", help="print the path of the demo seed file")
    args = parser.parse_args(argv)

    if args.command == "demo":
        print(demo_seed_path())
        return 0
    try:
        seed = generate_seed(args.count, first_dn=args.first_dn, first_did=args.first_did,
                             key_prefix=args.key_prefix, email_domain=args.email_domain)
    except ValueError as exc:
        parser.error(str(exc))
    text = json.dumps(seed, separators=(",", ":")) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
