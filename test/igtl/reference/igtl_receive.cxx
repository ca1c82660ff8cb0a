// Connects to an OpenIGTLink server, receives messages with the reference library (CRC
// checked), and prints one line per IMAGE, STRING or STATUS until <count> of them arrived:
//
//   IMAGE device=<name> crc=<ok|bad> size=i,j,k type=<n> components=<n> endian=<n>
//         coordinate=<n> spacing=a,b,c origin=x,y,z t=x,y,z s=x,y,z n=x,y,z
//         subvolume=i,j,k@i,j,k timestamp=<sec>.<frac> data=<hex>
//   STRING device=<name> crc=<ok|bad> encoding=<n> text=<rest of the line>
//   STATUS device=<name> crc=<ok|bad> code=<n> message=<rest of the line>
//
// Floats print with 9 significant digits, enough to reproduce any float32 exactly.
// usage: igtl_receive <host> <port> <count>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "igtlClientSocket.h"
#include "igtlImageMessage.h"
#include "igtlMessageHeader.h"
#include "igtlStatusMessage.h"
#include "igtlStringMessage.h"

static const char* crcText(int unpacked)
{
  return (unpacked & igtl::MessageHeader::UNPACK_BODY) ? "ok" : "bad";
}

int main(int argc, char* argv[])
{
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <host> <port> <count>\n", argv[0]);
    return 2;
  }
  const int count = std::atoi(argv[3]);
  igtl::ClientSocket::Pointer socket = igtl::ClientSocket::New();
  if (socket->ConnectToServer(argv[1], std::atoi(argv[2])) != 0) {
    std::fprintf(stderr, "cannot connect\n");
    return 1;
  }
  std::printf("CONNECTED\n");
  std::fflush(stdout);

  igtl::MessageHeader::Pointer header = igtl::MessageHeader::New();
  int printed = 0;
  while (printed < count) {
    header->InitPack();
    if (socket->Receive(header->GetPackPointer(), header->GetPackSize()) != header->GetPackSize()) {
      std::fprintf(stderr, "connection closed after %d messages\n", printed);
      return 1;
    }
    header->Unpack();
    const char* type = header->GetDeviceType();

    if (std::strcmp(type, "IMAGE") == 0) {
      igtl::ImageMessage::Pointer image = igtl::ImageMessage::New();
      image->SetMessageHeader(header);
      image->AllocatePack();
      socket->Receive(image->GetPackBodyPointer(), image->GetPackBodySize());
      const int unpacked = image->Unpack(1);
      int size[3], sub[3], offset[3];
      float spacing[3], origin[3], t[3], s[3], n[3];
      image->GetDimensions(size);
      image->GetSubVolume(sub, offset);
      image->GetSpacing(spacing);
      image->GetOrigin(origin);
      image->GetNormals(t, s, n);
      igtlUint32 sec = 0, frac = 0;
      image->GetTimeStamp(&sec, &frac);
      std::printf("IMAGE device=%s crc=%s size=%d,%d,%d type=%d components=%d endian=%d coordinate=%d", image->GetDeviceName(),
                  crcText(unpacked), size[0], size[1], size[2], image->GetScalarType(), image->GetNumComponents(), image->GetEndian(),
                  image->GetCoordinateSystem());
      std::printf(" spacing=%.9g,%.9g,%.9g origin=%.9g,%.9g,%.9g", spacing[0], spacing[1], spacing[2], origin[0], origin[1], origin[2]);
      std::printf(" t=%.9g,%.9g,%.9g s=%.9g,%.9g,%.9g n=%.9g,%.9g,%.9g", t[0], t[1], t[2], s[0], s[1], s[2], n[0], n[1], n[2]);
      std::printf(" subvolume=%d,%d,%d@%d,%d,%d timestamp=%u.%u data=", sub[0], sub[1], sub[2], offset[0], offset[1], offset[2], sec, frac);
      const unsigned char* data = static_cast<const unsigned char*>(image->GetScalarPointer());
      for (int i = 0; i < image->GetSubVolumeImageSize(); i++) std::printf("%02x", data[i]);
      std::printf("\n");
    } else if (std::strcmp(type, "STRING") == 0) {
      igtl::StringMessage::Pointer text = igtl::StringMessage::New();
      text->SetMessageHeader(header);
      text->AllocatePack();
      socket->Receive(text->GetPackBodyPointer(), text->GetPackBodySize());
      const int unpacked = text->Unpack(1);
      std::printf("STRING device=%s crc=%s encoding=%d text=%s\n", text->GetDeviceName(), crcText(unpacked), text->GetEncoding(),
                  text->GetString());
    } else if (std::strcmp(type, "STATUS") == 0) {
      igtl::StatusMessage::Pointer status = igtl::StatusMessage::New();
      status->SetMessageHeader(header);
      status->AllocatePack();
      socket->Receive(status->GetPackBodyPointer(), status->GetPackBodySize());
      const int unpacked = status->Unpack(1);
      std::printf("STATUS device=%s crc=%s code=%d message=%s\n", status->GetDeviceName(), crcText(unpacked), status->GetCode(),
                  status->GetStatusString());
    } else {
      socket->Skip(header->GetBodySizeToRead(), 0);
      continue;
    }
    printed++;
    std::fflush(stdout);
  }
  socket->CloseSocket();
  return 0;
}
