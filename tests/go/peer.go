// peer: a TCP client or server written in Go, for the supervisor tests. Go makes its own system
// calls, so LD_PRELOAD never reaches it, and sets a 15 s keepalive itself on every connection.
//
//	peer connect ADDRESS:PORT   dial, print "connected", then wait until stdin ends
//	peer serve ADDRESS:PORT     listen, print "listening", accept one, print "accepted", then
//	                            wait until stdin ends
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: peer connect|serve ADDRESS:PORT")
		os.Exit(2)
	}
	var conn net.Conn
	var err error
	switch os.Args[1] {
	case "connect":
		conn, err = net.Dial("tcp", os.Args[2])
		if err == nil {
			fmt.Println("connected")
		}
	case "serve":
		var listener net.Listener
		listener, err = net.Listen("tcp", os.Args[2])
		if err == nil {
			fmt.Println("listening")
			conn, err = listener.Accept()
		}
		if err == nil {
			fmt.Println("accepted")
		}
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	io.Copy(io.Discard, os.Stdin)
	conn.Close()
}
