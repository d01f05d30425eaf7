fn main() {
    eprintln!("schedbox: not implemented yet");
    std::process::exit(2);
}
