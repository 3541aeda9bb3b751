"""What operators do, as a library (`operations`) and a CLI (`closure`)."""
