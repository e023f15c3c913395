//! [`ObjectStore`] over one S3 bucket (and the ledger's [`crate::ledger::LedgerStore`] listing).

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
use aws_sdk_s3::primitives::ByteStream;

use super::store_error;
use crate::error::StoreError;
use crate::store::{Head, Object, ObjectStore, Written};

/// What CopyObject's source must have encoded: everything but the unreserved characters and the
/// key's slashes.
const COPY_SOURCE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The metadata key under which every object Hawkins writes records its SHA-256.
pub const SHA256_METADATA: &str = "sha256";

/// One bucket, through the SDK.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// A client for `config`; path-style addressing when an endpoint is set (the local AWS).
    pub fn client(config: &SdkConfig) -> Client {
        let path_style = config.endpoint_url().is_some();
        Client::from_conf(
            aws_sdk_s3::config::Builder::from(config)
                .force_path_style(path_style)
                .build(),
        )
    }

    pub fn from_config(config: &SdkConfig, bucket: impl Into<String>) -> Self {
        Self::new(Self::client(config), bucket)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// HeadObject, with "no such key" as `None`.
    async fn head_object(&self, key: &str) -> Result<Option<HeadObjectOutput>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(head)),
            Err(err) if matches!(err.as_service_error(), Some(HeadObjectError::NotFound(_))) => {
                Ok(None)
            }
            Err(err) => Err(store_error("HeadObject", &self.resource(key), &err)),
        }
    }

    /// ListObjectsV2, every page: the keys under `prefix`, sorted; with a delimiter, only those
    /// with no delimiter after the prefix.
    async fn keys(&self, prefix: &str, delimiter: Option<&str>) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_string))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|err| store_error("ListObjectsV2", &self.resource(prefix), &err))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        keys.sort();
        Ok(keys)
    }

    fn resource(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

impl ObjectStore for S3Store {
    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let response = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(response) => response,
            Err(err) if matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None);
            }
            Err(err) => return Err(store_error("GetObject", &self.resource(key), &err)),
        };
        let last_modified = response.last_modified().map(|t| t.secs());
        let bytes = response
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Transient {
                op: "GetObject",
                resource: self.resource(key),
                message: format!("reading the body: {e}"),
            })?;
        Ok(Some(Object {
            bytes: bytes.to_vec(),
            last_modified,
        }))
    }

    async fn stored_sha256(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.head_object(key).await?.and_then(|head| {
            head.metadata()
                .and_then(|m| m.get(SHA256_METADATA))
                .cloned()
        }))
    }

    async fn head(&self, key: &str) -> Result<Option<Head>, StoreError> {
        Ok(self.head_object(key).await?.map(|head| Head {
            revision: head
                .version_id()
                .filter(|v| !v.is_empty() && *v != "null")
                .or(head.e_tag())
                .unwrap_or_default()
                .to_string(),
            last_modified: head.last_modified().map(|t| t.secs()),
            size: head.content_length().and_then(|n| u64::try_from(n).ok()),
        }))
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        sha256: &str,
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .metadata(SHA256_METADATA, sha256)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| store_error("PutObject", &self.resource(key), &err))
    }

    /// Streams the file from disk: a dataset is never held in memory whole. One PutObject
    /// (up to 5 GB), far above any dataset this corpus makes.
    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
        sha256: &str,
    ) -> Result<(), StoreError> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| StoreError::Other {
                op: "read",
                resource: path.display().to_string(),
                message: e.to_string(),
            })?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .metadata(SHA256_METADATA, sha256)
            .body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| store_error("PutObject", &self.resource(key), &err))
    }

    /// CopyObject: S3 copies the bytes; the function never holds them. The hash is the one the
    /// caller computed of the bytes it read; should the object change in between, its own event
    /// quarantines (or processes) it again.
    async fn copy_if_changed(
        &self,
        from: &str,
        to: &str,
        content_type: &str,
        sha256: &str,
    ) -> Result<Written, StoreError> {
        if self.stored_sha256(to).await?.as_deref() == Some(sha256) {
            return Ok(Written::Unchanged);
        }
        let source = format!(
            "{}/{}",
            self.bucket,
            percent_encoding::utf8_percent_encode(from, COPY_SOURCE)
        );
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(to)
            .copy_source(source)
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .content_type(content_type)
            .metadata(SHA256_METADATA, sha256)
            .send()
            .await
            .map(|_| Written::Stored)
            .map_err(|err| store_error("CopyObject", &self.resource(to), &err))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.keys(prefix, None).await
    }
}

impl crate::ledger::LedgerStore for S3Store {
    /// ListObjectsV2 with the `/` delimiter: the objects directly under `prefix`, each folder below
    /// it (the ledger's month partitions) folded into one common prefix that is not returned.
    async fn list_direct(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.keys(prefix, Some("/")).await
    }
}

impl crate::storage::Inventory for S3Store {
    /// ListObjectsV2, every page, with each object's size and LastModified.
    async fn list_sized(&self, prefix: &str) -> Result<Vec<crate::storage::Listed>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|err| store_error("ListObjectsV2", &self.resource(prefix), &err))?;
            out.extend(page.contents().iter().filter_map(|o| {
                Some(crate::storage::Listed {
                    key: o.key()?.to_string(),
                    size: o.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    last_modified: o.last_modified().map(|t| t.secs()),
                })
            }));
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// DeleteObjects, up to 1,000 keys a call (S3's limit). S3 answers a missing key as deleted;
    /// a key S3 could not delete fails the call, naming it.
    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Other {
                    op: "DeleteObjects",
                    resource: self.resource(&chunk[0]),
                    message: e.to_string(),
                })?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| StoreError::Other {
                    op: "DeleteObjects",
                    resource: self.resource(&chunk[0]),
                    message: e.to_string(),
                })?;
            let out = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|err| store_error("DeleteObjects", &self.resource(&chunk[0]), &err))?;
            if let Some(failed) = out.errors().first() {
                let code = failed.code().unwrap_or_default();
                let message = format!("{code}: {}", failed.message().unwrap_or_default());
                let resource = self.resource(failed.key().unwrap_or_default());
                return Err(match code {
                    "AccessDenied" => StoreError::Refused {
                        op: "DeleteObjects",
                        resource,
                        message,
                    },
                    "SlowDown" | "InternalError" | "ServiceUnavailable" => StoreError::Transient {
                        op: "DeleteObjects",
                        resource,
                        message,
                    },
                    _ => StoreError::Other {
                        op: "DeleteObjects",
                        resource,
                        message,
                    },
                });
            }
        }
        Ok(())
    }
}
