//! The broker's decisions: which `[[allow]]` rules match a peer, and
//! whether one of them covers a request. Refusals say why in words a
//! person can act on (they go to the client and to the agent's log).

use crate::config::Allow;
use crate::peer::Peer;
use keyvault::Caps;

/// Whether every condition `rule` gives holds for `peer`.
pub fn matches(rule: &Allow, peer: &Peer) -> bool {
    rule.uid.is_none_or(|u| u == peer.uid)
        && rule.gid.is_none_or(|g| g == peer.gid)
        && rule
            .exe
            .as_ref()
            .is_none_or(|e| peer.exe.as_ref() == Some(e))
        && rule
            .unit
            .as_ref()
            .is_none_or(|u| peer.unit.as_ref() == Some(u))
}

fn allows_key(rule: &Allow, name: &str) -> bool {
    rule.keys
        .as_ref()
        .is_none_or(|k| k.iter().any(|n| n == name))
}

/// The rule that grants `caps` on every key of `keys` to `peer`, or why none does.
pub fn decide<'r>(
    rules: &'r [Allow],
    peer: &Peer,
    keys: &[&str],
    caps: Caps,
) -> Result<&'r Allow, String> {
    let mine: Vec<&Allow> = rules.iter().filter(|r| matches(r, peer)).collect();
    if mine.is_empty() {
        return Err(format!("no rule of the policy matches {peer}"));
    }
    if let Some(r) = mine
        .iter()
        .find(|r| caps - r.caps == Caps::empty() && keys.iter().all(|k| allows_key(r, k)))
    {
        return Ok(r);
    }
    // Say what is missing, from the rule that comes closest.
    if let Some(k) = keys.iter().find(|k| !mine.iter().any(|r| allows_key(r, k))) {
        return Err(format!("no rule for {peer} allows key '{k}'"));
    }
    // The first of the closest (max_by_key keeps the last: reversed).
    let best = mine
        .iter()
        .rev()
        .max_by_key(|r| {
            (
                keys.iter().filter(|k| allows_key(r, k)).count(),
                (caps & r.caps).bits().count_ones(),
            )
        })
        .expect("not empty");
    let missing = caps - best.caps;
    if missing.is_empty() {
        Err(format!(
            "no one rule for {peer} allows all of {} together (rule '{}' comes closest)",
            keys.join(", "),
            best.name
        ))
    } else {
        Err(format!(
            "rule '{}' for {peer} does not give {} (it gives {})",
            best.name,
            missing.names(),
            best.caps.names()
        ))
    }
}

/// Every capability the rules matching `peer` give on key `name`.
pub fn caps_on(rules: &[Allow], peer: &Peer, name: &str) -> Caps {
    rules
        .iter()
        .filter(|r| matches(r, peer) && allows_key(r, name))
        .fold(Caps::empty(), |c, r| c | r.caps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn rule(name: &str, uid: Option<u32>, keys: Option<&[&str]>, caps: Caps) -> Allow {
        Allow {
            name: name.into(),
            uid,
            gid: None,
            exe: None,
            unit: None,
            keys: keys.map(|k| k.iter().map(|s| s.to_string()).collect()),
            caps,
        }
    }

    fn peer(uid: u32) -> Peer {
        Peer {
            pid: 42,
            uid,
            gid: 100,
            exe: Some(PathBuf::from("/usr/bin/app")),
            unit: Some("app.service".into()),
        }
    }

    #[test]
    fn one_rule_must_cover_every_key_and_cap() {
        let rules = [
            rule("web", Some(33), Some(&["tls"]), Caps::SIGN | Caps::GETINFO),
            rule("db", Some(33), Some(&["db"]), Caps::ENCRYPT | Caps::DECRYPT),
            rule("admin", Some(0), None, Caps::GETINFO),
        ];
        assert_eq!(
            decide(&rules, &peer(33), &["tls"], Caps::SIGN)
                .unwrap()
                .name,
            "web"
        );
        assert_eq!(
            decide(&rules, &peer(33), &["db"], Caps::DECRYPT)
                .unwrap()
                .name,
            "db"
        );
        assert_eq!(
            decide(&rules, &peer(0), &["anything"], Caps::GETINFO)
                .unwrap()
                .name,
            "admin"
        );
        let e = decide(&rules, &peer(1000), &["tls"], Caps::SIGN).unwrap_err();
        assert!(
            e.contains("no rule of the policy matches pid 42 uid 1000"),
            "{e}"
        );
        let e = decide(&rules, &peer(33), &["other"], Caps::SIGN).unwrap_err();
        assert!(e.contains("allows key 'other'"), "{e}");
        let e = decide(&rules, &peer(33), &["tls"], Caps::SIGN | Caps::DECRYPT).unwrap_err();
        assert!(
            e.contains("rule 'web'") && e.contains("does not give decrypt"),
            "{e}"
        );
        let e = decide(&rules, &peer(33), &["tls", "db"], Caps::GETINFO).unwrap_err();
        assert!(e.contains("no one rule"), "{e}");
        assert_eq!(
            caps_on(&rules, &peer(33), "tls"),
            Caps::SIGN | Caps::GETINFO
        );
        assert_eq!(
            caps_on(&rules, &peer(33), "db"),
            Caps::ENCRYPT | Caps::DECRYPT
        );
        assert_eq!(caps_on(&rules, &peer(1000), "tls"), Caps::empty());
    }

    #[test]
    fn every_condition_of_a_rule_must_hold() {
        let mut r = rule("x", Some(33), None, Caps::SIGN);
        r.gid = Some(100);
        r.exe = Some(PathBuf::from("/usr/bin/app"));
        r.unit = Some("app.service".into());
        assert!(matches(&r, &peer(33)));
        let mut p = peer(33);
        p.exe = None; // unreadable: an exe condition cannot hold
        assert!(!matches(&r, &p));
        let mut p = peer(33);
        p.unit = Some("other.service".into());
        assert!(!matches(&r, &p));
        let mut p = peer(33);
        p.gid = 0;
        assert!(!matches(&r, &p));
        assert!(!matches(&r, &peer(34)));
        assert!(matches(&rule("any", None, None, Caps::SIGN), &peer(7)));
    }
}
