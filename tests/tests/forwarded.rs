//! Derives and attributes forwarded to the generated insert and patch structs, as web handlers
//! use them: request bodies deserialized straight into `NewProfile` / `ProfilePatch`.

mod common;

use skelly_db::{Executor, Table};

#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    schema = "web",
    insert_derive(serde::Deserialize, Debug, Clone),
    insert_attr(serde(rename_all = "camelCase", deny_unknown_fields)),
    patch_derive(serde::Deserialize, Debug),
    patch_attr(serde(rename_all = "camelCase"))
)]
pub struct Profile {
    pub id: uuid::Uuid,
    #[table(rename = "full_name")]
    pub display_name: String,
    pub bio: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[test]
fn request_bodies_deserialize_into_the_generated_structs() {
    // The JSON names follow the Rust names (camelCase here), never the column's `rename`.
    let new: NewProfile = serde_json::from_str(r#"{"displayName": "Ada", "bio": null}"#).unwrap();
    assert_eq!(
        (new.display_name.as_str(), new.bio.as_deref()),
        ("Ada", None)
    );
    let err = serde_json::from_str::<NewProfile>(r#"{"full_name": "Ada", "bio": null}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `full_name`"), "{err}");

    // Absent leaves a column alone; `null` writes NULL; a value writes it.
    let absent: ProfilePatch = serde_json::from_str(r#"{"displayName": "Grace"}"#).unwrap();
    assert_eq!(absent.display_name.as_deref(), Some("Grace"));
    assert_eq!(absent.bio, None);
    let null: ProfilePatch = serde_json::from_str(r#"{"bio": null}"#).unwrap();
    assert_eq!((null.display_name, null.bio), (None, Some(None)));
    let value: ProfilePatch = serde_json::from_str(r#"{"bio": "hi"}"#).unwrap();
    assert_eq!(value.bio, Some(Some("hi".to_string())));
    let empty: ProfilePatch = serde_json::from_str("{}").unwrap();
    assert_eq!((empty.display_name, empty.bio), (None, None));
}

#[tokio::test]
async fn a_deserialized_patch_writes_what_the_body_said() {
    let db = common::empty_db().await;
    let pool = db.pool();
    pool.batch_execute(&Profile::create_table_sql())
        .await
        .unwrap();
    let new: NewProfile = serde_json::from_str(r#"{"displayName": "Ada", "bio": "math"}"#).unwrap();
    let profile = Profile::insert(pool, new).await.unwrap();
    let patch: ProfilePatch = serde_json::from_str(r#"{"bio": null}"#).unwrap();
    let after = Profile::update(pool, profile.id, patch).await.unwrap();
    assert_eq!((after.display_name.as_str(), after.bio), ("Ada", None));
    let patch: ProfilePatch = serde_json::from_str(r#"{"displayName": "Lovelace"}"#).unwrap();
    let after = Profile::update(pool, profile.id, patch).await.unwrap();
    assert_eq!((after.display_name.as_str(), after.bio), ("Lovelace", None));
}
