//! The `bucket` kind against a real S3 server (a scratch `s3s-fs`): listing, backup
//! streams, uploads into other prefixes and buckets, and the errors users will meet.
#![allow(clippy::unwrap_used)]

use lifeboat_core::Secret;
use lifeboat_sources::bucket::{self, BucketTarget, ObjectInfo};
use lifeboat_sources::scratch::s3::ScratchS3;
use lifeboat_sources::{Dump, SourceError};
use std::collections::BTreeMap;
use std::io::Read;

fn server() -> ScratchS3 {
    ScratchS3::start().unwrap_or_else(|e| panic!("cannot start the scratch S3 server: {e}"))
}

/// Deterministic bytes that do not compress or repeat.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

struct Sample {
    key: &'static str,
    data: Vec<u8>,
    content_type: Option<&'static str>,
}

fn samples() -> Vec<Sample> {
    let sample = |key, data, content_type| Sample {
        key,
        data,
        content_type,
    };
    vec![
        sample(
            "readme.txt",
            b"hello, bucket\n".to_vec(),
            Some("text/plain"),
        ),
        sample(
            "a/b/c.json",
            br#"{"nested":true}"#.to_vec(),
            Some("application/json"),
        ),
        sample("bin/all-bytes.bin", (0..=255u8).rev().collect(), None),
        // Bigger than one 8 MiB part: a multipart upload.
        sample(
            "big/large.bin",
            noise(12 << 20, 7),
            Some("application/x-custom"),
        ),
        sample("empty", Vec::new(), Some("text/plain")),
    ]
}

fn put(target: &BucketTarget, key: &str, data: &[u8], content_type: Option<&str>) {
    bucket::put_object(target, key, &mut &data[..], data.len() as u64, content_type).unwrap();
}

/// Reads a dump to its end and runs its finisher.
fn drain(dump: Dump) -> (String, Result<Vec<u8>, String>) {
    let Dump {
        name,
        mut stream,
        finish,
        ..
    } = dump;
    let mut data = Vec::new();
    let read = stream.read_to_end(&mut data).map_err(|e| e.to_string());
    drop(stream);
    let finished = finish().map_err(|e| e.to_string());
    let outcome = match (read, finished) {
        (Ok(_), Ok(_)) => Ok(data),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    (name, outcome)
}

/// Every object of `target`, by key: (content type, bytes).
fn contents(target: &BucketTarget) -> BTreeMap<String, (Option<String>, Vec<u8>)> {
    let listed = bucket::list_objects(target).unwrap();
    let types: BTreeMap<_, _> = listed
        .iter()
        .map(|o| (o.key.clone(), o.content_type.clone()))
        .collect();
    bucket::dumps_for(target, &listed)
        .unwrap()
        .into_iter()
        .map(drain)
        .map(|(name, data)| {
            let data = data.unwrap_or_else(|e| panic!("{name}: {e}"));
            (name.clone(), (types[&name].clone(), data))
        })
        .collect()
}

fn expected() -> BTreeMap<String, (Option<String>, Vec<u8>)> {
    samples()
        .into_iter()
        .map(|s| (s.key.into(), (s.content_type.map(str::to_string), s.data)))
        .collect()
}

#[test]
fn objects_round_trip_into_other_prefixes_and_buckets() {
    let s3 = server();
    s3.create_bucket("source").unwrap();
    s3.create_bucket("other").unwrap();
    let source = s3.target("s3://source/data").unwrap();
    for sample in samples() {
        put(&source, sample.key, &sample.data, sample.content_type);
    }
    // Beside the prefix, not under it: must stay out of the backup.
    put(
        &s3.target("s3://source/database").unwrap(),
        "x",
        b"no",
        None,
    );
    put(&s3.target("s3://source").unwrap(), "top.txt", b"no", None);

    let listed = bucket::list_objects(&source).unwrap();
    let sizes: Vec<(&str, u64)> = listed.iter().map(|o| (o.key.as_str(), o.size)).collect();
    assert_eq!(
        sizes,
        [
            ("a/b/c.json", 15),
            ("big/large.bin", 12 << 20),
            ("bin/all-bytes.bin", 256),
            ("empty", 0),
            ("readme.txt", 14)
        ]
    );
    let types: Vec<Option<&str>> = listed.iter().map(|o| o.content_type.as_deref()).collect();
    println!("content types kept by s3s-fs: {types:?}");
    assert_eq!(contents(&source), expected());

    // What the engine does: store each stream and ~objects.json, then restore both.
    let metadata = bucket::metadata_json(&listed);
    let mut stored: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for dump in bucket::start_backup(&source).unwrap() {
        assert!(dump.hash);
        let (name, data) = drain(dump);
        stored.insert(name, data.unwrap());
    }
    let parsed: Vec<ObjectInfo> = bucket::parse_metadata(&metadata).unwrap();
    assert_eq!(parsed, listed);
    for url in [
        "s3://source/copy/of/data",
        "s3://other/restored",
        "s3://other",
    ] {
        let into = source.with_url(url).unwrap();
        assert!(
            !bucket::holds_data(&into).unwrap() || url == "s3://other",
            "{url}"
        );
        for object in &parsed {
            let data = &stored[&object.key];
            put(&into, &object.key, data, object.content_type.as_deref());
        }
        assert!(bucket::holds_data(&into).unwrap());
        if url != "s3://other" {
            assert_eq!(contents(&into), expected(), "{url}");
        }
    }
    // The whole bucket holds the copy at its top and the one under restored/.
    assert_eq!(
        bucket::list_objects(&s3.target("s3://other").unwrap())
            .unwrap()
            .len(),
        10
    );

    let restored = s3.target("s3://other/restored").unwrap();
    assert_eq!(bucket::delete_prefix(&restored).unwrap(), 5);
    assert!(!bucket::holds_data(&restored).unwrap());
    assert_eq!(contents(&s3.target("s3://other").unwrap()), expected());
    assert_eq!(contents(&source), expected());
}

#[test]
fn wrong_secret_key_says_access_denied_without_the_key() {
    let s3 = server();
    s3.create_bucket("bkt").unwrap();
    let wrong = "wrong-secret-0123456789";
    let target = BucketTarget::parse(
        "s3://bkt/p",
        Some(s3.endpoint()),
        None,
        Some(s3.access_key()),
        Some(Secret::new(wrong.into())),
    )
    .unwrap();
    let real = s3.secret_key().expose().clone();
    let errors = [
        bucket::list_objects(&target).unwrap_err(),
        bucket::holds_data(&target).unwrap_err(),
        bucket::put_object(&target, "k", &mut &b"data"[..], 4, None).unwrap_err(),
    ];
    for error in errors {
        let text = error.to_string();
        println!("{text}");
        assert!(text.contains("access denied"), "{text}");
        assert!(!text.contains(wrong) && !text.contains(&real), "{text}");
    }
}

#[test]
fn unreachable_endpoint_is_named() {
    let port = lifeboat_sources::scratch::free_port().unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let key = |k: &str| Some(Secret::new(k.to_string()));
    let target = BucketTarget::parse(
        "s3://bkt/p",
        Some(endpoint.clone()),
        None,
        key("access-key-id"),
        key("secret-access-key"),
    )
    .unwrap();
    let text = bucket::list_objects(&target).unwrap_err().to_string();
    println!("{text}");
    assert!(text.contains("cannot reach"), "{text}");
    assert!(text.contains(&endpoint), "{text}");
    assert!(!text.contains("access-key"), "{text}");
}

#[test]
fn missing_bucket_is_named() {
    let s3 = server();
    let target = s3.target("s3://nosuch/p").unwrap();
    // Not put_object: s3s-fs creates a missing bucket's directory on PUT (AWS answers
    // NoSuchBucket, which maps to the same message); restores check holds_data first.
    for error in [
        bucket::list_objects(&target).unwrap_err(),
        bucket::holds_data(&target).unwrap_err(),
        bucket::delete_prefix(&target).unwrap_err(),
    ] {
        let text = error.to_string();
        println!("{text}");
        assert!(
            text.contains("nosuch") && text.contains("does not exist"),
            "{text}"
        );
    }
}

#[test]
fn objects_changed_after_listing_fail_their_dump() {
    let s3 = server();
    s3.create_bucket("bkt").unwrap();
    let target = s3.target("s3://bkt/p").unwrap();
    put(&target, "gone.txt", b"soon deleted", None);
    put(&target, "grown.txt", b"short", None);
    put(&target, "kept.txt", b"stays", None);
    let dumps = bucket::start_backup(&target).unwrap();
    // The GETs have not started yet: streams open on first read.
    std::fs::remove_file(s3.root().join("bkt/p/gone.txt")).unwrap();
    put(&target, "grown.txt", b"much longer now", None);
    let outcomes: BTreeMap<String, Result<Vec<u8>, String>> =
        dumps.into_iter().map(drain).collect();
    let gone = outcomes["gone.txt"].as_ref().unwrap_err();
    println!("{gone}");
    assert!(gone.contains("gone.txt"), "{gone}");
    let grown = outcomes["grown.txt"].as_ref().unwrap_err();
    println!("{grown}");
    assert!(grown.contains("listing said 5"), "{grown}");
    assert_eq!(outcomes["kept.txt"].as_deref(), Ok(&b"stays"[..]));
}

#[test]
fn short_bodies_are_refused_on_upload() {
    let s3 = server();
    s3.create_bucket("bkt").unwrap();
    let target = s3.target("s3://bkt/p").unwrap();
    let error = bucket::put_object(&target, "k", &mut &b"abc"[..], 10, None).unwrap_err();
    assert!(matches!(error, SourceError::Invalid(_)), "{error}");
    assert!(!bucket::holds_data(&target).unwrap());
}
