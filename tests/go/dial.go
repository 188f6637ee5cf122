// dial: a Go client for the cgroup tests. Go's net package makes its own system calls, never
// through the C library, so LD_PRELOAD cannot reach it and only the kernel can configure it.
//
//	dial ADDRESS:PORT              connect with Go's keepalive off, print "connected", block reading
//	dial ADDRESS:PORT go-keepalive the same with Go's default: keepalive on, 15 s idle and interval
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	dialer := net.Dialer{KeepAlive: -1}
	if len(os.Args) > 2 && os.Args[2] == "go-keepalive" {
		dialer.KeepAlive = 0
	}
	connection, err := dialer.Dial("tcp", os.Args[1])
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("connected")
	_, err = connection.Read(make([]byte, 1))
	fmt.Println("read:", err)
}
