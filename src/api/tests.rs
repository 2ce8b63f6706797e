use super::*;

#[test]
fn framing_round_trips_and_catches_lies() {
    let body = encode_publish(b"{}", b"tar");
    assert_eq!(
        decode_publish(&body, 10, 10).unwrap(),
        (&b"{}"[..], &b"tar"[..])
    );
    let mut long = body.clone();
    long.push(0);
    assert_eq!(
        decode_publish(&long, 10, 10),
        Err(FramingError::TrailingBytes(1))
    );
    assert!(matches!(
        decode_publish(&body[..body.len() - 1], 10, 10),
        Err(FramingError::Truncated(_))
    ));
    assert!(matches!(
        decode_publish(&body, 1, 10),
        Err(FramingError::TooLarge { .. })
    ));
    assert!(matches!(
        decode_publish(&[1, 0], 10, 10),
        Err(FramingError::Truncated(_))
    ));
}
