use super::redacted;

#[test]
fn feed_tokens_never_reach_the_log_in_any_spelling() {
    let secret = "skr_3_9f00aa";
    for path in [
        format!("/~{secret}/.well-known/agent-skills/index.json"),
        format!("//~{secret}/teams/data/.well-known/agent-skills/index.json"),
        format!("/%7E{secret}/.well-known/agent-skills/files/x.zip"),
        format!("/%7e{secret}"),
    ] {
        let logged = redacted(&path);
        assert!(!logged.contains("9f00aa"), "{path} logged as {logged}");
        assert!(logged.contains("~…"), "{logged}");
    }
    assert_eq!(redacted("/index/se/rd/serde"), "/index/se/rd/serde");
}
