/* The memory floor the desktop is judged against (issue 21): a bare WebKitGTK 4.1 web view
 * in a GTK 3 window the size of tauri.conf.json's main window (1280x820), showing a small
 * static page from a file. The same libwebkit2gtk-4.1 eio-desktop links, default settings:
 * nothing disabled, compositing and DMA-BUF rendering left as WebKit chooses. C rather than
 * PyGObject: a Python UI process weighs ~18 MiB more PSS than this one, which would lift the
 * floor by the interpreter instead of the platform.
 *
 *   cc -O2 -o webkit-floor webkit-floor.c $(pkg-config --cflags --libs webkit2gtk-4.1)
 *   webkit-floor [--width 1280] [--height 820] PAGE.html
 *
 * bench/first-data.mjs builds and starts it. Once the page has loaded (load-changed
 * FINISHED) and WebKit has drawn a frame of it (two requestAnimationFrame callbacks in the
 * page: the second runs after the first frame was produced), it prints one line to stdout,
 * `painted {"pid": N, "ms": N}` (ms since it started), and keeps the window open until
 * SIGTERM/SIGINT or its stdin closes. An error prints `error <sentence>` and exits 1. */
#include <glib-unix.h>
#include <gtk/gtk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <webkit2/webkit2.h>

static gint64 started;
static GMainLoop *loop;
static int code;

static gboolean stop(gpointer data) {
  code = GPOINTER_TO_INT(data);
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

static gboolean stdin_closed(gint fd, GIOCondition condition, gpointer data) {
  (void)fd;
  (void)condition;
  (void)data;
  return stop(GINT_TO_POINTER(0));
}

static void painted(GObject *view, GAsyncResult *result, gpointer data) {
  (void)data;
  GError *error = NULL;
  JSCValue *value = webkit_web_view_call_async_javascript_function_finish(WEBKIT_WEB_VIEW(view), result, &error);
  if (value == NULL) {
    printf("error the page did not draw a frame: %s\n", error->message);
    fflush(stdout);
    g_error_free(error);
    stop(GINT_TO_POINTER(1));
    return;
  }
  g_object_unref(value);
  printf("painted {\"pid\": %d, \"ms\": %" G_GINT64_FORMAT "}\n", (int)getpid(), (g_get_monotonic_time() - started) / 1000);
  fflush(stdout);
}

static void load_changed(WebKitWebView *view, WebKitLoadEvent event, gpointer data) {
  (void)data;
  if (event != WEBKIT_LOAD_FINISHED) return;
  const char *body = "await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))); return 1;";
  webkit_web_view_call_async_javascript_function(view, body, -1, NULL, NULL, NULL, NULL, painted, NULL);
}

static gboolean load_failed(WebKitWebView *view, WebKitLoadEvent event, gchar *uri, GError *error, gpointer data) {
  (void)view;
  (void)event;
  (void)data;
  printf("error cannot load %s: %s\n", uri, error->message);
  fflush(stdout);
  stop(GINT_TO_POINTER(1));
  return TRUE;
}

int main(int argc, char **argv) {
  started = g_get_monotonic_time();
  int width = 1280, height = 820;
  const char *page = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--width") == 0 && i + 1 < argc) width = atoi(argv[++i]);
    else if (strcmp(argv[i], "--height") == 0 && i + 1 < argc) height = atoi(argv[++i]);
    else page = argv[i];
  }
  if (page == NULL || width <= 0 || height <= 0) {
    printf("error usage: webkit-floor [--width N] [--height N] PAGE.html\n");
    return 1;
  }
  if (!g_file_test(page, G_FILE_TEST_IS_REGULAR)) {
    printf("error the page %s does not exist\n", page);
    return 1;
  }
  gtk_init(&argc, &argv);
  loop = g_main_loop_new(NULL, FALSE);

  GtkWidget *window = gtk_window_new(GTK_WINDOW_TOPLEVEL);
  gtk_window_set_title(GTK_WINDOW(window), "WebKit floor");
  gtk_window_set_default_size(GTK_WINDOW(window), width, height);
  GtkWidget *view = webkit_web_view_new();
  gtk_container_add(GTK_CONTAINER(window), view);
  g_signal_connect(view, "load-changed", G_CALLBACK(load_changed), NULL);
  g_signal_connect(view, "load-failed", G_CALLBACK(load_failed), NULL);
  g_signal_connect_swapped(window, "destroy", G_CALLBACK(stop), GINT_TO_POINTER(0));
  g_unix_signal_add(SIGTERM, stop, GINT_TO_POINTER(0));
  g_unix_signal_add(SIGINT, stop, GINT_TO_POINTER(0));
  /* The parent closing our stdin (or dying) ends us too: no window left behind. */
  g_unix_fd_add(0, G_IO_HUP | G_IO_ERR, stdin_closed, NULL);

  gtk_widget_show_all(window);
  char *absolute = g_canonicalize_filename(page, NULL);
  char *uri = g_filename_to_uri(absolute, NULL, NULL);
  webkit_web_view_load_uri(WEBKIT_WEB_VIEW(view), uri);
  g_free(uri);
  g_free(absolute);
  g_main_loop_run(loop);
  return code;
}
