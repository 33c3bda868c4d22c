//! vSphere tags, through the tagging REST API (`/rest/com/vmware/cis/tagging`), which SOAP
//! does not offer.
//!
//! Owns the REST session (its own login with the same credentials, ended when done) and
//! the bulk read: categories and tags once each, then every tag's attached objects in one
//! `list-attached-objects-on-tags` call. It must never ask per object, and never put the
//! password anywhere but the Basic authorization header of the session login.
use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::VcenterError;
use super::Session;
use crate::http::error_excerpt;

const SESSION_HEADER: &str = "vmware-api-session-id";

#[derive(Deserialize)]
struct Value<T> {
    value: T,
}

#[derive(Deserialize)]
struct Category {
    name: String,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
    category_id: String,
}

#[derive(Deserialize)]
struct Attached {
    tag_id: String,
    #[serde(default)]
    object_ids: Vec<AttachedObject>,
}

#[derive(Deserialize)]
struct AttachedObject {
    id: String,
}

impl Session {
    /// Every tagged object's tags, as "Category/Tag", keyed by moid (sorted, no repeats).
    pub async fn tags(&self) -> Result<HashMap<String, Vec<String>>, VcenterError> {
        let mut base = self.soap.url().clone();
        base.set_path("/rest/com/vmware/cis/");
        base.set_query(None);
        let http = self.soap.http();
        let host = self.soap.host().to_owned();
        let fail = |reason: String| VcenterError::Tagging { host: host.clone(), reason };
        let url = |path: &str| base.join(path).map_err(|e| fail(format!("bad URL {path}: {e}")));

        let login = http
            .inner()
            .post(url("session")?)
            .basic_auth(&self.credentials.username, Some(self.credentials.password.expose()));
        let token: String = self.rest_json(login, &fail).await?;

        let result = async {
            let get = |path: String| -> Result<reqwest::RequestBuilder, VcenterError> {
                Ok(http.inner().get(url(&path)?).header(SESSION_HEADER, &token))
            };
            // vcsim answers `{"value": null}` for an empty list.
            let category_ids: Vec<String> = self
                .rest_json::<Option<Vec<String>>>(get("tagging/category".into())?, &fail)
                .await?
                .unwrap_or_default();
            let mut categories = HashMap::new();
            for id in category_ids {
                let c: Category = self.rest_json(get(format!("tagging/category/id:{id}"))?, &fail).await?;
                categories.insert(id, c.name);
            }
            let tag_ids: Vec<String> =
                self.rest_json::<Option<Vec<String>>>(get("tagging/tag".into())?, &fail).await?.unwrap_or_default();
            let mut tags = HashMap::new();
            for id in &tag_ids {
                let t: Tag = self.rest_json(get(format!("tagging/tag/id:{id}"))?, &fail).await?;
                let category = categories.get(&t.category_id).cloned().unwrap_or_else(|| t.category_id.clone());
                tags.insert(id.clone(), format!("{category}/{}", t.name));
            }
            let mut by_object: HashMap<String, Vec<String>> = HashMap::new();
            if tag_ids.is_empty() {
                return Ok(by_object);
            }
            let list = http
                .inner()
                .post(url("tagging/tag-association?~action=list-attached-objects-on-tags")?)
                .header(SESSION_HEADER, &token)
                .json(&serde_json::json!({ "tag_ids": tag_ids }));
            let attached: Vec<Attached> =
                self.rest_json::<Option<Vec<Attached>>>(list, &fail).await?.unwrap_or_default();
            for a in attached {
                let Some(name) = tags.get(&a.tag_id) else { continue };
                for o in a.object_ids {
                    by_object.entry(o.id).or_default().push(name.clone());
                }
            }
            for names in by_object.values_mut() {
                names.sort();
                names.dedup();
            }
            Ok(by_object)
        }
        .await;

        // End the REST session whatever happened; a failure here changes nothing above.
        if let Ok(u) = url("session") {
            let _ = http.send(http.inner().delete(u).header(SESSION_HEADER, &token)).await;
        }
        result
    }

    /// Send a REST request and decode its `{"value": …}` answer.
    async fn rest_json<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        fail: &(dyn Fn(String) -> VcenterError + Send + Sync),
    ) -> Result<T, VcenterError> {
        let http = self.soap.http();
        let response = http.send(request).await?;
        let status = response.status();
        if !status.is_success() {
            let excerpt = error_excerpt(http, response).await;
            let hint = if status.as_u16() == 401 { " (the tagging API refused the credentials)" } else { "" };
            return Err(fail(format!("HTTP {}{hint}: {excerpt}", status.as_u16())));
        }
        let body = http.body(response).await?;
        let value: Value<T> = serde_json::from_slice(&body).map_err(|e| fail(format!("unexpected answer: {e}")))?;
        Ok(value.value)
    }
}
