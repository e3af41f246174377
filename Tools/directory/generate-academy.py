#!/usr/bin/env python3
"""Writes the LDIF of a generated academy for benchmarks: N agents (agent-0 ... agent-N-1), each
managed by one of N/50 managers (mgr-0 ...), themselves managed by the recteur; the DSI operator
dsi-op1, the support agent helpdesk1, the service account and the groups of the sample academy.
Every password is "password1".

Usage: generate-academy.py N > academy.ldif
"""
import sys

S = "dc=ac-test,dc=fr"
P = f"ou=people,{S}"


def entry(dn, *lines):
    return f"dn: {dn}\n" + "\n".join(lines) + "\n"


def person(uid, manager=None):
    lines = ["objectClass: inetOrgPerson", "objectClass: FrEduPerson", f"uid: {uid}", f"cn: {uid}", f"sn: {uid}",
             f"mail: {uid}@ac-test.fr", "userPassword: password1"]
    if manager:
        lines.append(f"manager: uid={manager},{P}")
    return entry(f"uid={uid},{P}", *lines)


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    agents = int(sys.argv[1])
    managers = max(1, agents // 50)
    out = [entry(S, "objectClass: top", "objectClass: dcObject", "objectClass: organization", "o: Academie de test", "dc: ac-test")]
    for ou in ["people", "groups", "services"]:
        out.append(entry(f"ou={ou},{S}", "objectClass: organizationalUnit", f"ou: {ou}"))
    out.append(entry(f"cn=okey,ou=services,{S}", "objectClass: organizationalRole", "objectClass: simpleSecurityObject",
                     "cn: okey", "userPassword: okey-service-secret"))
    out.append(person("recteur"))
    out.append(person("dsi-op1", "recteur"))
    out.append(person("helpdesk1", "recteur"))
    for m in range(managers):
        out.append(person(f"mgr-{m}", "recteur"))
    for a in range(agents):
        out.append(person(f"agent-{a}", f"mgr-{a % managers}"))
    out.append(entry(f"cn=dsi,ou=groups,{S}", "objectClass: groupOfNames", "cn: dsi", f"member: uid=dsi-op1,{P}"))
    out.append(entry(f"cn=support,ou=groups,{S}", "objectClass: groupOfNames", "cn: support", f"member: uid=helpdesk1,{P}"))
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
