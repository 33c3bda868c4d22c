fn main() {
    eio_desktop::run()
}
