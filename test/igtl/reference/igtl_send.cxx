// Connects to an OpenIGTLink server and sends IMAGE messages packed by the reference library,
// then a GET_STATUS, and prints the STATUS reply as "STATUS code=<n> name=<text>".
//
// usage: igtl_send <host> <port> <count> <scalar type> <components> <endian 1|2> <width> <height>
//
// Pixel value of component c at (i, j) in message m: ((7 i + 13 j + 3 c + 5 m) mod 200) - 50.
// Unsigned types clamp it at 0 and float types scale it by 0.5. Values are written byte by
// byte in the requested byte order. Geometry: spacing 0.3 x 0.4 x 1.5 mm, axes rotated 30 degrees
// about z, centre (12.5, -7.25, 3), RAS. Timestamp of message m: 1700000000 + m seconds.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "igtlClientSocket.h"
#include "igtlImageMessage.h"
#include "igtlMessageHeader.h"
#include "igtlStatusMessage.h"

static void writeValue(unsigned char* out, double value, int scalarType, bool bigEndian)
{
  unsigned char bytes[8];
  int size = 0;
  switch (scalarType) {
    case 2: { signed char v = (signed char)value; std::memcpy(bytes, &v, 1); size = 1; break; }
    case 3: { unsigned char v = (unsigned char)(value < 0 ? 0 : value); std::memcpy(bytes, &v, 1); size = 1; break; }
    case 4: { short v = (short)value; std::memcpy(bytes, &v, 2); size = 2; break; }
    case 5: { unsigned short v = (unsigned short)(value < 0 ? 0 : value); std::memcpy(bytes, &v, 2); size = 2; break; }
    case 6: { int v = (int)value; std::memcpy(bytes, &v, 4); size = 4; break; }
    case 7: { unsigned int v = (unsigned int)(value < 0 ? 0 : value); std::memcpy(bytes, &v, 4); size = 4; break; }
    case 10: { float v = (float)(value * 0.5); std::memcpy(bytes, &v, 4); size = 4; break; }
    case 11: { double v = value * 0.5; std::memcpy(bytes, &v, 8); size = 8; break; }
  }
  // The host is little endian (x86-64, arm64): reverse for big endian output.
  for (int b = 0; b < size; b++) out[b] = bigEndian ? bytes[size - 1 - b] : bytes[b];
}

int main(int argc, char* argv[])
{
  if (argc != 9) {
    std::fprintf(stderr, "usage: %s <host> <port> <count> <scalar type> <components> <endian 1|2> <width> <height>\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[2]);
  const int count = std::atoi(argv[3]);
  const int scalarType = std::atoi(argv[4]);
  const int components = std::atoi(argv[5]);
  const int endian = std::atoi(argv[6]);
  const int width = std::atoi(argv[7]);
  const int height = std::atoi(argv[8]);

  igtl::ClientSocket::Pointer socket = igtl::ClientSocket::New();
  if (socket->ConnectToServer(argv[1], port) != 0) {
    std::fprintf(stderr, "cannot connect to %s:%d\n", argv[1], port);
    return 1;
  }

  const float angle = 30.0f * 3.14159265358979f / 180.0f;
  float t[3] = {std::cos(angle), std::sin(angle), 0.0f};
  float s[3] = {-std::sin(angle), std::cos(angle), 0.0f};
  float n[3] = {0.0f, 0.0f, 1.0f};

  for (int m = 0; m < count; m++) {
    igtl::ImageMessage::Pointer image = igtl::ImageMessage::New();
    image->SetDeviceName("RefSender");
    image->SetTimeStamp(1700000000 + m, 0);
    image->SetDimensions(width, height, 1);
    image->SetSpacing(0.3f, 0.4f, 1.5f);
    image->SetNormals(t, s, n);
    image->SetOrigin(12.5f, -7.25f, 3.0f);
    image->SetScalarType(scalarType);
    image->SetNumComponents(components);
    image->SetEndian(endian);
    image->SetCoordinateSystem(igtl::ImageMessage::COORDINATE_RAS);
    image->SetSubVolume(width, height, 1, 0, 0, 0);
    image->AllocateScalars();

    unsigned char* data = static_cast<unsigned char*>(image->GetScalarPointer());
    const int size = image->GetScalarSize();
    for (int j = 0; j < height; j++)
      for (int i = 0; i < width; i++)
        for (int c = 0; c < components; c++) {
          const double value = ((7 * i + 13 * j + 3 * c + 5 * m) % 200) - 50;
          writeValue(data + ((j * width + i) * components + c) * size, value, scalarType, endian == 1);
        }
    image->Pack();
    socket->Send(image->GetPackPointer(), image->GetPackSize());
  }

  igtl::GetStatusMessage::Pointer query = igtl::GetStatusMessage::New();
  query->SetDeviceName("RefSender");
  query->Pack();
  socket->Send(query->GetPackPointer(), query->GetPackSize());

  igtl::MessageHeader::Pointer header = igtl::MessageHeader::New();
  for (;;) {
    header->InitPack();
    if (socket->Receive(header->GetPackPointer(), header->GetPackSize()) != header->GetPackSize()) {
      std::fprintf(stderr, "connection closed before a STATUS reply\n");
      return 1;
    }
    header->Unpack();
    if (std::strcmp(header->GetDeviceType(), "STATUS") != 0) {
      socket->Skip(header->GetBodySizeToRead(), 0);
      continue;
    }
    igtl::StatusMessage::Pointer status = igtl::StatusMessage::New();
    status->SetMessageHeader(header);
    status->AllocatePack();
    socket->Receive(status->GetPackBodyPointer(), status->GetPackBodySize());
    const int unpacked = status->Unpack(1);
    std::printf("STATUS code=%d name=%s crc=%s\n", status->GetCode(), status->GetErrorName(),
                (unpacked & igtl::MessageHeader::UNPACK_BODY) ? "ok" : "bad");
    break;
  }
  socket->CloseSocket();
  return 0;
}
