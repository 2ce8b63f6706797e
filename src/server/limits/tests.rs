use super::*;

fn slots(per_token: usize, per_ip: usize) -> UploadSlots {
    UploadSlots::new(&Limits {
        max_concurrent_uploads_per_token: per_token,
        max_concurrent_uploads_per_ip: per_ip,
        ..Limits::default()
    })
}

const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

#[test]
fn token_cap_then_ip_cap_and_slots_come_back_on_drop() {
    let caps = slots(2, 3);
    let one = caps.acquire(1, A).unwrap();
    let two = caps.acquire(1, A).unwrap();
    assert_eq!(
        caps.acquire(1, B).err(),
        Some(UploadCapError::Token { limit: 2 })
    );
    let three = caps.acquire(2, A).unwrap();
    assert_eq!(
        caps.acquire(3, A).err(),
        Some(UploadCapError::Ip { limit: 3 })
    );
    // A refusal took nothing: another address still has room.
    let other = caps.acquire(3, B).unwrap();
    drop(one);
    let again = caps.acquire(1, A).unwrap();
    drop((two, three, other, again));
    assert_eq!(caps.in_use(), (0, 0), "every key is forgotten at zero");
}

#[test]
fn zero_is_no_cap() {
    let caps = slots(0, 0);
    let held: Vec<_> = (0..50).map(|_| caps.acquire(1, A).unwrap()).collect();
    assert_eq!(held.len(), 50);
}

#[test]
fn the_detail_names_the_cap_and_how_to_raise_it() {
    let text = UploadCapError::Token { limit: 2 }.to_string();
    assert!(text.contains("2 upload(s)"), "{text}");
    assert!(
        text.contains("raise limits.max_concurrent_uploads_per_token"),
        "{text}"
    );
    let text = UploadCapError::Ip { limit: 4 }.to_string();
    assert!(
        text.contains("raise limits.max_concurrent_uploads_per_ip"),
        "{text}"
    );
}
