//! Metric labels: route templates (never the raw path) and methods, a bounded set.

use axum::http::Method;

use super::mount::{Mount, split_mount};

/// Route templates for metric labels (`/api/entries/{id}`, never the raw path): matched here from
/// the documented paths, so the label set is bounded and the router stays untouched.
pub struct RouteTemplates {
    /// Each template with its label under each mount, leaked once at start-up so labels are
    /// `&'static str` and counting a request allocates nothing.
    router: matchit::Router<(&'static str, &'static str)>,
}

impl RouteTemplates {
    pub fn new<'a>(templates: impl IntoIterator<Item = &'a str>) -> Self {
        let mut router = matchit::Router::new();
        for template in templates {
            let api: &'static str = Box::leak(format!("/api{template}").into_boxed_str());
            let root: &'static str = Box::leak(template.to_owned().into_boxed_str());
            // A template the matcher refuses only loses its own label.
            let _ = router.insert(template, (api, root));
        }
        Self { router }
    }

    pub(super) fn label(&self, original_path: &str) -> &'static str {
        let (mount, path) = split_mount(original_path);
        match self.router.at(path) {
            Ok(found) if mount == Mount::Api => found.value.0,
            Ok(found) => found.value.1,
            Err(_) => "unmatched",
        }
    }
}

pub(super) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_templates() {
        let templates = RouteTemplates::new(["/entries", "/entries/{id}"]);
        assert_eq!(
            templates.label("/api/entries/6745c0ffee0ddba11deadbee"),
            "/api/entries/{id}"
        );
        assert_eq!(templates.label("/entries/"), "/entries");
        assert_eq!(templates.label("/nope"), "unmatched");
    }
}
