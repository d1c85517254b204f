//! Test support for the bucket kind: objects put into and read back from a scratch S3
//! server, and a config with one bucket source.

use super::Workspace;
use lifeboat_sources::bucket::{self, list_objects};
use lifeboat_sources::scratch::s3::ScratchS3;

/// Key, bytes and content type of one object.
pub type Object = (String, Vec<u8>, Option<String>);

pub fn put(s3: &ScratchS3, url: &str, key: &str, body: &[u8], content_type: Option<&str>) {
    let target = s3.target(url).unwrap();
    bucket::put_object(
        &target,
        key,
        &mut &body[..],
        body.len() as u64,
        content_type,
    )
    .unwrap_or_else(|e| panic!("putting {key:?}: {e}"));
}

/// Every object under `url`, in listing order (S3 lists keys sorted).
pub fn objects(s3: &ScratchS3, url: &str) -> Vec<Object> {
    let target = s3.target(url).unwrap();
    let listed = list_objects(&target).unwrap();
    let mut dumps = bucket::dumps_for(&target, &listed).unwrap();
    let mut out = Vec::new();
    for (info, dump) in listed.iter().zip(dumps.iter_mut()) {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut dump.stream, &mut bytes).unwrap();
        out.push((info.key.clone(), bytes, info.content_type.clone()));
    }
    out
}

/// The keys under `url`, without reading the objects.
pub fn keys(s3: &ScratchS3, url: &str) -> Vec<String> {
    let target = s3.target(url).unwrap();
    list_objects(&target)
        .map(|listed| listed.into_iter().map(|o| o.key).collect())
        .unwrap_or_default()
}

/// The server's keys in the standard AWS variables, where lifeboat's S3 repositories
/// read them.
pub fn aws_env(ws: &mut Workspace, s3: &ScratchS3) {
    ws.env
        .push(("AWS_ACCESS_KEY_ID".into(), s3.access_key().expose().clone()));
    ws.env.push((
        "AWS_SECRET_ACCESS_KEY".into(),
        s3.secret_key().expose().clone(),
    ));
}

/// App `depot` with one bucket source `source` backing up `url`; the keys reach
/// lifeboat through the environment.
pub fn config(ws: &mut Workspace, s3: &ScratchS3, source: &str, url: &str) {
    ws.env
        .push(("S3_KEY".into(), s3.access_key().expose().clone()));
    ws.env
        .push(("S3_SECRET".into(), s3.secret_key().expose().clone()));
    ws.config(&format!(
        "[[app]]\nname = \"depot\"\n\n[[app.source]]\nname = \"{source}\"\nkind = \"bucket\"\nurl = \"{url}\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\naccess_key_env = \"S3_KEY\"\nsecret_key_env = \"S3_SECRET\"\n",
        s3.endpoint()
    ));
}
