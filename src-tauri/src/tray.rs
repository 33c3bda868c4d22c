//! The tray icon: always there, with "Open EIO", the approvals waiting for the user (a
//! badge: the count as the tray's label and tooltip; clicking opens the approval queue)
//! and "Quit". It needs no tray host to start.
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Emitter, Manager, Runtime};

pub const TRAY_ID: &str = "eio";
const APPROVALS_ITEM: &str = "approvals";

/// The menu item showing the count, kept to update its text.
struct ApprovalsItem<R: Runtime>(MenuItem<R>);

pub fn install<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open EIO", true, None::<&str>)?;
    let approvals = MenuItem::with_id(app, APPROVALS_ITEM, "No approvals waiting", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &approvals, &quit])?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID).tooltip("EIO").menu(&menu);
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show_main(app),
            APPROVALS_ITEM => {
                show_main(app);
                let _ = app.emit(crate::live::OPEN_EVENT, "/jobs");
            }
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } = event {
                show_main(tray.app_handle());
            }
        })
        .build(app)?;
    app.manage(ApprovalsItem(approvals));
    Ok(())
}

/// Show `count` approvals waiting for the user on the tray (0 clears the badge).
pub fn set_badge<R: Runtime>(app: &AppHandle<R>, count: i64) {
    let text = match count {
        0 => "No approvals waiting".to_owned(),
        1 => "1 approval waiting".to_owned(),
        n => format!("{n} approvals waiting"),
    };
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_tooltip(Some(format!("EIO — {text}")));
        let _ = tray.set_title(if count > 0 { Some(count.to_string()) } else { None });
    }
    if let Some(item) = app.try_state::<ApprovalsItem<R>>() {
        let _ = item.0.set_text(&text);
    }
}

pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}
