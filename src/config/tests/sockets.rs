//! Who may reach the sockets: per-guest owners, per-device peer allowlists, the control
//! socket's uid allowlist and the shared-directory switch.

use super::{err, ivi};
use crate::config::{parse, PeerAllowlist};

#[test]
fn peer_allowlists_parse_deduplicated_and_admit_by_uid_or_gid() {
    let c = parse(
        &ivi(&["kind = \"scmi\"\npeer_uids = [1000, 1000, 0]\npeer_gids = [36]"]),
        "t",
    )
    .expect("valid");
    let peers = &c.guests[0].devices[0].peers;
    assert_eq!(
        peers,
        &PeerAllowlist {
            uids: vec![1000, 0],
            gids: vec![36]
        }
    );
    assert!(peers.admits(1000, 5) && peers.admits(7, 36) && !peers.admits(7, 5));
    assert!(PeerAllowlist::default().admits(7, 5), "none listed: open");
}

#[test]
fn bad_ids_and_empty_lists_are_refused_with_the_key() {
    assert_eq!(
        err(&ivi(&["kind = \"scmi\"\npeer_uids = []"])),
        "etc/x.toml: guest \"ivi\" device 1 peer_uids: empty (omit the key to leave it open; \
         an empty list would admit nobody)"
    );
    assert_eq!(
        err(&ivi(&["kind = \"scmi\"\npeer_gids = [-1]"])),
        "etc/x.toml: guest \"ivi\" device 1 peer_gids: -1 is out of range (expected 0 to \
         4294967294)"
    );
    assert_eq!(
        err(&format!(
            "[service]\ncontrol_uids = [4294967295]\n{}",
            ivi(&["kind = \"scmi\""])
        )),
        "etc/x.toml: service.control_uids: 4294967295 is out of range (expected 0 to \
         4294967294)"
    );
    let gunyah = "kind = \"scmi\"\npeer_uids = [1]\ntransport = { gunyah = { node = \
                  \"/dev/gh_virtio_backend_ivi\", label = 1, window_base = 0x80000000 } }";
    assert!(err(&ivi(&[gunyah])).contains("peer allowlists apply to socket transports"));
}

#[test]
fn guest_socket_owners_and_the_control_allowlist_parse() {
    let text = "[service]\ncontrol_uids = [0]\nallow_shared_dirs = true\n\
                [[guest]]\nname = \"ivi\"\nsocket_user = \"crosvm\"\nsocket_group = \"1234\"\n\
                [[guest.device]]\nkind = \"scmi\"\n";
    let c = parse(text, "t").expect("valid");
    assert_eq!(c.service.control_uids, [0]);
    assert!(c.service.allow_shared_dirs);
    assert_eq!(c.guests[0].socket_user.as_deref(), Some("crosvm"));
    assert_eq!(c.guests[0].socket_group.as_deref(), Some("1234"));
    assert!(err(&ivi(&["kind = \"scmi\""]).replace(
        "name = \"ivi\"\n",
        "name = \"ivi\"\nsocket_user = \"a b\"\n"
    ))
    .contains("guest \"ivi\" socket_user: \"a b\" is not a user name or id"));
}
